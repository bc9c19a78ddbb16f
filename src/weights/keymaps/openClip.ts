// OpenCLIP vision-tower keys (open_clip `VisionTransformer`, src/open_clip/transformer.py) served under
// transformers' CLIPVisionModelWithProjection names, so the one CLIP vision graph (models/clip/visionEncoder.ts)
// runs both layouts:
//   visual.conv1                          → vision_model.embeddings.patch_embedding (no bias in either)
//   visual.class_embedding                → vision_model.embeddings.class_embedding
//   visual.positional_embedding [N, D]    → vision_model.embeddings.position_embedding.weight
//   visual.ln_pre / ln_post               → vision_model.pre_layrnorm / post_layernorm
//   visual.transformer.resblocks.i.ln_1 / ln_2      → encoder.layers.i.layer_norm1 / layer_norm2
//   ….attn.in_proj_weight/bias [3D, D] rows q|k|v   → self_attn.{q,k,v}_proj
//   ….attn.out_proj, mlp.c_fc, mlp.c_proj           → self_attn.out_proj, mlp.fc1, mlp.fc2
//   visual.proj [D, P] (used as x @ proj)          → visual_projection.weight [P, D] (transposed)
// Prefixes: a bare open_clip state dict (`visual.`), ColorizeDiffusion single files, whose cond stage is
// refnet.modules.embedder.OpenCLIP → FrozenOpenCLIPImageEmbedder with the tower at `.model`
// (`cond_stage_model.visual.model.`), and SD2-style `cond_stage_model.model.visual.`.
import type { WeightStore } from '../../graph/weights.ts';
import type { SafetensorsReader } from '../safetensors.ts';
import { type OpenClipKey, openClipResblockKey, openClipTowerWeights, transposeMatrix } from './openClipTower.ts';

export const OPENCLIP_VISION_PREFIXES = ['cond_stage_model.visual.model.', 'visual.', 'cond_stage_model.model.visual.', ''] as const;

/** What the shapes say about an OpenCLIP vision tower (heads are not in the shapes). */
export interface OpenClipVisionLayout {
  prefix: string;
  width: number;
  patchSize: number;
  imageSize: number;
  layers: number;
  mlpWidth: number;
  /** Output width of `proj`. */
  projectionDim: number;
  channels: number;
}

export function detectOpenClipVisionLayout(reader: SafetensorsReader): OpenClipVisionLayout | undefined {
  for (const prefix of OPENCLIP_VISION_PREFIXES) {
    const key = (k: string) => prefix + k;
    if (!reader.has(key('conv1.weight')) || !reader.has(key('transformer.resblocks.0.attn.in_proj_weight'))) continue;
    const [width, channels, patchSize] = reader.info(key('conv1.weight')).shape;
    const tokens = reader.info(key('positional_embedding')).shape[0];
    const grid = Math.round(Math.sqrt(tokens - 1));
    let layers = 0;
    while (reader.has(key(`transformer.resblocks.${layers}.ln_1.weight`))) layers++;
    const proj = reader.has(key('proj')) ? reader.info(key('proj')).shape : undefined;
    return {
      prefix, width, channels, patchSize, imageSize: grid * patchSize, layers,
      mlpWidth: reader.info(key('transformer.resblocks.0.mlp.c_fc.weight')).shape[0],
      projectionDim: proj ? proj[1] : 0,
    };
  }
  return undefined;
}

/** Our (transformers) name → the OpenCLIP tensor, with a row slice for q/k/v and a transpose for the projection. */
export function openClipVisionKey(name: string, width: number): OpenClipKey | undefined {
  const fixed: Record<string, OpenClipKey> = {
    'vision_model.embeddings.patch_embedding.weight': { key: 'conv1.weight' },
    'vision_model.embeddings.class_embedding': { key: 'class_embedding' },
    'vision_model.embeddings.position_embedding.weight': { key: 'positional_embedding' },
    'vision_model.pre_layrnorm.weight': { key: 'ln_pre.weight' },
    'vision_model.pre_layrnorm.bias': { key: 'ln_pre.bias' },
    'vision_model.post_layernorm.weight': { key: 'ln_post.weight' },
    'vision_model.post_layernorm.bias': { key: 'ln_post.bias' },
    'visual_projection.weight': { key: 'proj', transpose: true },
  };
  return fixed[name] ?? openClipResblockKey(name, 'vision_model.encoder.', width);
}

/** A store serving transformers CLIP vision names from an OpenCLIP-layout file (any stored float dtype, served as f32). */
export function openClipVisionWeights(reader: SafetensorsReader, layout: OpenClipVisionLayout): WeightStore {
  return openClipTowerWeights(reader, layout.prefix, (name) => openClipVisionKey(name, layout.width), 'openclip-vision');
}

/**
 * The inverse map: transformers-named CLIP vision tensors → OpenCLIP-named tensors under `prefix` (q/k/v
 * fused into in_proj, the projection transposed). For writing test files and converting checkpoints.
 */
export function toOpenClipVisionTensors(named: Record<string, { shape: readonly number[]; data: Float32Array }>, prefix = 'visual.'): { name: string; shape: number[]; data: Float32Array }[] {
  const width = named['vision_model.embeddings.class_embedding']?.shape[0];
  if (!width) throw new Error('toOpenClipVisionTensors: vision_model.embeddings.class_embedding is missing');
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of Object.entries(named)) {
    const k = openClipVisionKey(name, width);
    if (!k) continue;
    const key = prefix + k.key;
    if (k.rows) {
      const cols = t.shape.length === 2 ? t.shape[1] : 1;
      const fused = out.get(key) ?? { shape: t.shape.length === 2 ? [3 * width, cols] : [3 * width], data: new Float32Array(3 * width * cols) };
      fused.data.set(t.data, k.rows[0] * cols);
      out.set(key, fused);
    } else if (k.transpose) {
      const [r, c] = t.shape;
      out.set(key, { shape: [c, r], data: transposeMatrix(t.data, r, c) });
    } else {
      out.set(key, { shape: [...t.shape], data: t.data });
    }
  }
  return [...out].map(([name, t]) => ({ name, ...t }));
}
