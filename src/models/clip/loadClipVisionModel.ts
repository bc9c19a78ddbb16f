// A CLIP vision tower as ComfyUI's CLIPVisionLoader finds it in models/clip_vision: a single .safetensors
// file with transformers keys (vision_model.*, visual_projection.*) or OpenCLIP keys (visual.*), or — inkflow
// extra — a folder holding a transformers config.json + model.safetensors (e.g. SDRO's image_encoder).
// A single file carries no config: it is read from the shapes, with ComfyUI's configs for what shapes cannot
// tell (comfy/clip_vision.py: 24 layers × 1024 is ViT-L with quick_gelu; ViT-H and ViT-bigG use gelu; 16 heads).
import { statSync } from 'node:fs';
import type { CompileOptions } from '../../runtime/session.ts';
import { openSafetensors, type SafetensorsReader } from '../../weights/safetensors.ts';
import { safetensorsWeights } from '../../weights/store.ts';
import { ClipConfigError, parseClipVisionConfig, type ClipVisionConfig } from './config.ts';
import { openClipVisionEncoder, openClipVisionHeads } from './openClipVision.ts';
import { clipVisionEncoder, loadClipVisionEncoder, type ClipVisionEncoder } from './visionEncoder.ts';

type Shapes = (key: string) => number[] | undefined;

/** A transformers CLIPVisionModel config from tensor shapes, or undefined when the keys are not transformers'. */
export function inferClipVisionConfig(shape: Shapes): ClipVisionConfig | undefined {
  const patch = shape('vision_model.embeddings.patch_embedding.weight');
  const pos = shape('vision_model.embeddings.position_embedding.weight');
  if (!patch || !pos) return undefined;
  const [width, channels, patchSize] = patch;
  let layers = 0;
  while (shape(`vision_model.encoder.layers.${layers}.layer_norm1.weight`)) layers++;
  const fc1 = shape('vision_model.encoder.layers.0.mlp.fc1.weight');
  if (!layers || !fc1) throw new ClipConfigError('CLIP vision file: vision_model.encoder.layers.0 is missing');
  const grid = Math.round(Math.sqrt(pos[0] - 1));
  const proj = shape('visual_projection.weight');
  return parseClipVisionConfig({
    hidden_size: width,
    intermediate_size: fc1[0],
    projection_dim: proj ? proj[0] : width,
    num_hidden_layers: layers,
    num_attention_heads: openClipVisionHeads(width),
    num_channels: channels,
    image_size: grid * patchSize,
    patch_size: patchSize,
    hidden_act: layers === 24 && width === 1024 ? 'quick_gelu' : 'gelu',
    layer_norm_eps: 1e-5,
  }, 'CLIP vision file (config from tensor shapes)');
}

function fromFile(reader: SafetensorsReader, path: string, opts: Pick<CompileOptions, 'provider' | 'threads' | 'cacheDir' | 'fuse'>): ClipVisionEncoder {
  const open = openClipVisionEncoder(reader, opts);
  if (open) return open;
  const cfg = inferClipVisionConfig((k) => (reader.has(k) ? reader.info(k).shape : undefined));
  if (!cfg) throw new ClipConfigError(`${path}: not a CLIP vision model (no vision_model.embeddings.patch_embedding.weight, no OpenCLIP visual.conv1.weight)`);
  return clipVisionEncoder(cfg, safetensorsWeights(reader), opts);
}

/** The CLIP vision tower at `path` (file or folder). */
export async function loadClipVisionModel(path: string, opts: Pick<CompileOptions, 'provider' | 'threads' | 'cacheDir' | 'fuse'> = {}): Promise<ClipVisionEncoder> {
  if (statSync(path).isDirectory()) return loadClipVisionEncoder(path, opts);
  if (!path.toLowerCase().endsWith('.safetensors')) throw new ClipConfigError(`${path}: CLIP vision models must be .safetensors files (pickled .ckpt/.pt/.bin can run code and are refused)`);
  const reader = openSafetensors(path);
  try {
    return fromFile(reader, path, opts);
  } catch (e) {
    reader.close();
    throw e;
  }
}
