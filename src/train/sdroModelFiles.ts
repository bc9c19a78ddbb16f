// An SDRO model as training sees it: the diffusers folder (model_index.json, unet/, image_encoder/, vae/,
// scheduler/, clip_image_processor/ — the released layout that pipelines/colorize/sdro.ts loads) read into
// configs and one flat parameter map with "unet." and "image_encoder." prefixes, and written back the same
// way. The training graph (sdroTraining.ts) uses exactly these prefixed names.
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTextLimited } from '../files/readText.ts';
import type { Graph } from '../graph/graph.ts';
import type { WeightStore } from '../graph/weights.ts';
import { parseUNetConfig, type UNetConfig } from '../models/unet/config.ts';
import { openUNetCheckpoint, unetWeights } from '../models/unet/load.ts';
import { parseClipVisionConfig, type ClipVisionConfig } from '../models/clip/config.ts';
import { parseClipImageProcessorConfig, type ClipImageProcessorConfig } from '../models/clip/imageProcessor.ts';
import { openSafetensors } from '../weights/safetensors.ts';
import { safetensorsWeights } from '../weights/store.ts';
import { writeSafetensors } from '../weights/safetensors.ts';

export class SdroModelError extends Error {
  override name = 'SdroModelError';
}

export const UNET_PREFIX = 'unet.';
export const IMAGE_ENCODER_PREFIX = 'image_encoder.';

/** The configs of an SDRO model, raw (as written to disk) and parsed. */
export interface SdroArchitecture {
  unetJson: Record<string, unknown>;
  visionJson: Record<string, unknown>;
  processorJson: Record<string, unknown>;
  schedulerJson: Record<string, unknown>;
  unet: UNetConfig;
  vision: ClipVisionConfig;
  processor: ClipImageProcessorConfig;
}

export function sdroArchitecture(json: { unet: Record<string, unknown>; vision: Record<string, unknown>; processor: Record<string, unknown>; scheduler: Record<string, unknown> }): SdroArchitecture {
  const unet = parseUNetConfig(json.unet);
  if (!unet.conditioning) throw new SdroModelError('SDRO UNet config: needs conditioning_channels / conditioning_embedding_out_channels (UNet2DDobuleConditionModel)');
  const vision = parseClipVisionConfig(json.vision);
  if (vision.hidden_size !== unet.crossAttentionDim) throw new SdroModelError(`SDRO: image encoder width ${vision.hidden_size} ≠ UNet cross_attention_dim ${unet.crossAttentionDim}`);
  return { unetJson: json.unet, visionJson: json.vision, processorJson: json.processor, schedulerJson: json.scheduler, unet, vision, processor: parseClipImageProcessorConfig(json.processor) };
}

function readJson(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new SdroModelError(`${path} is missing`);
  try {
    const v = JSON.parse(readTextLimited(path).replace(/\bNaN\b|-?\bInfinity\b/g, 'null')) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new SdroModelError(`${path}: ${(e as Error).message}`);
  }
}

/** Reads the configs of the SDRO folder `dir`. */
export function readSdroArchitecture(dir: string): SdroArchitecture {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new SdroModelError(`SDRO model folder ${dir} does not exist or is not a folder`);
  const index = readJson(join(dir, 'model_index.json'));
  if (index._class_name !== 'StableDiffusionReferenceOnlyPipeline') throw new SdroModelError(`${join(dir, 'model_index.json')}: _class_name is ${JSON.stringify(index._class_name)}, expected "StableDiffusionReferenceOnlyPipeline"`);
  return sdroArchitecture({
    unet: readJson(join(dir, 'unet', 'config.json')),
    vision: readJson(join(dir, 'image_encoder', 'config.json')),
    processor: readJson(join(dir, 'clip_image_processor', 'preprocessor_config.json')),
    scheduler: readJson(join(dir, 'scheduler', 'scheduler_config.json')),
  });
}

function f32Of(store: WeightStore, name: string, file: string): Float32Array {
  const p = store.get(name);
  if (!p) throw new SdroModelError(`${file}: parameter ${name} is missing`);
  if (p.dtype !== 'f32') throw new SdroModelError(`${file}: parameter ${name} is ${p.dtype}, expected f32`);
  return new Float32Array(p.bytes.buffer.slice(p.bytes.byteOffset, p.bytes.byteOffset + p.bytes.byteLength));
}

/** The trained parameters of `graph` (prefixed names) read from the SDRO folder `dir`. */
export function readSdroParams(dir: string, graph: Graph): Record<string, Float32Array> {
  const unet = openUNetCheckpoint(join(dir, 'unet'));
  const visionFile = join(dir, 'image_encoder', 'model.safetensors');
  const vision = openSafetensors(visionFile);
  try {
    const unetStore = unetWeights(unet.reader, unet.config).store;
    const visionStore = safetensorsWeights(vision);
    const out: Record<string, Float32Array> = {};
    for (const name of graph.params.keys()) {
      if (name.startsWith(UNET_PREFIX)) out[name] = f32Of(unetStore, name.slice(UNET_PREFIX.length), unet.file);
      else if (name.startsWith(IMAGE_ENCODER_PREFIX)) out[name] = f32Of(visionStore, name.slice(IMAGE_ENCODER_PREFIX.length), visionFile);
      else throw new SdroModelError(`training graph parameter ${name} belongs to neither the UNet nor the image encoder`);
    }
    return out;
  } finally {
    unet.reader.close();
    vision.close();
  }
}

type Shapes = Readonly<Record<string, readonly number[]>>;

function subset(params: Readonly<Record<string, Float32Array>>, shapes: Shapes, prefix: string) {
  return Object.keys(params).filter((k) => k.startsWith(prefix)).sort()
    .map((k) => ({ name: k.slice(prefix.length), dtype: 'F32' as const, shape: [...shapes[k]], data: params[k] }));
}

function copyFolder(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(from)) if (statSync(join(from, f)).isFile()) copyFileSync(join(from, f), join(to, f));
}

const writeJson = (path: string, v: unknown) => writeFileSync(path, `${JSON.stringify(v, null, 2)}\n`);

/**
 * Writes a complete SDRO folder to `dir`: the trained UNet and image encoder, the VAE copied from
 * `vaeDir`, the scheduler and image-processor configs. The image encoder's post_layernorm (unused by
 * SDRO, which reads last_hidden_state) is written as an identity when training did not carry it.
 */
export async function saveSdroFolder(dir: string, arch: SdroArchitecture, params: Readonly<Record<string, Float32Array>>, shapes: Shapes, vaeDir: string, metadata: Record<string, string> = {}): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeJson(join(dir, 'model_index.json'), {
    _class_name: 'StableDiffusionReferenceOnlyPipeline', _diffusers_version: '0.21.0',
    clip_image_processor: ['transformers', 'CLIPImageProcessor'], image_encoder: ['transformers', 'CLIPVisionModel'],
    scheduler: ['diffusers', 'DDPMScheduler'], unet: ['stable_diffusion_reference_only.models.unet_2d_dobule_condition', 'UNet2DDobuleConditionModel'],
    vae: ['diffusers', 'AutoencoderKL'],
  });
  for (const sub of ['unet', 'image_encoder', 'scheduler', 'clip_image_processor']) mkdirSync(join(dir, sub), { recursive: true });
  await writeSafetensors(join(dir, 'unet', 'diffusion_pytorch_model.safetensors'), subset(params, shapes, UNET_PREFIX), { format: 'pt', ...metadata });
  writeJson(join(dir, 'unet', 'config.json'), arch.unetJson);
  const vision = subset(params, shapes, IMAGE_ENCODER_PREFIX);
  const d = arch.vision.hidden_size;
  for (const [suffix, fill] of [['weight', 1], ['bias', 0]] as const) {
    const name = `vision_model.post_layernorm.${suffix}`;
    if (!vision.some((t) => t.name === name)) vision.push({ name, dtype: 'F32', shape: [d], data: new Float32Array(d).fill(fill) });
  }
  await writeSafetensors(join(dir, 'image_encoder', 'model.safetensors'), vision, { format: 'pt', ...metadata });
  writeJson(join(dir, 'image_encoder', 'config.json'), arch.visionJson);
  writeJson(join(dir, 'scheduler', 'scheduler_config.json'), arch.schedulerJson);
  writeJson(join(dir, 'clip_image_processor', 'preprocessor_config.json'), arch.processorJson);
  if (vaeDir !== join(dir, 'vae')) copyFolder(vaeDir, join(dir, 'vae'));
}
