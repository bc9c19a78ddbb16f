// Which Stable Diffusion family a checkpoint belongs to, and whether it predicts ε or v.
// Neither is stored explicitly in an LDM single file, so we read them off the tensors, as ComfyUI's
// model detection does (comfy/model_detection.py, comfy/supported_models.py):
//   family      SD1 has a transformers CLIP under cond_stage_model.transformer and 768-wide cross
//               attention; SD2 has OpenCLIP under cond_stage_model.model and 1024-wide cross attention.
//   prediction  an explicit option wins; then safetensors metadata (modelspec.prediction_type,
//               ss_v_parameterization); then the file name ("v-pred", "vpred", "768-v"); then, for SD2
//               non-inpainting files only, ComfyUI's heuristic: the std of
//               output_blocks.11.1.transformer_blocks.0.norm1.bias above 0.09 means v-prediction.
import { basename } from 'node:path';
import type { SafetensorsReader } from '../../weights/safetensors.ts';
import { LDM_UNET_PREFIX } from '../../weights/keymaps/ldmUnet.ts';
import type { PredictionType } from '../predictionType.ts';

export type ModelFamily = 'sd1' | 'sd2';

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** Family from the text-encoder layout, falling back to the UNet's cross-attention width. */
export function detectFamily(textLayout: 'transformers' | 'openclip' | undefined, contextDim: number): ModelFamily {
  if (textLayout === 'openclip') return 'sd2';
  if (textLayout === 'transformers') return contextDim === 1024 ? 'sd2' : 'sd1';
  if (contextDim === 1024) return 'sd2';
  return 'sd1';
}

/** True when the file is an SDXL checkpoint (two text encoders / label embedding), which we refuse clearly. */
export function isSdxlSingleFile(reader: SafetensorsReader): boolean {
  return reader.has('conditioner.embedders.1.model.ln_final.weight') || reader.has(`${LDM_UNET_PREFIX}label_emb.0.0.weight`);
}

const V_NAME_RE = /(^|[^a-z])(v[-_]?pred(iction)?|768[-_]v)([^a-z]|$)/i;

export interface PredictionClue {
  prediction: PredictionType;
  /** How it was decided, for logs and metadata. */
  reason: string;
}

/** Prediction type of a single-file checkpoint (see the file comment for the order of clues). */
export function detectPrediction(reader: SafetensorsReader, family: ModelFamily, inChannels: number, explicit?: PredictionType): PredictionClue {
  if (explicit) return { prediction: explicit, reason: 'option' };
  const meta = reader.metadata;
  const spec = meta['modelspec.prediction_type'];
  if (spec === 'v' || spec === 'v_prediction') return { prediction: 'v_prediction', reason: 'metadata modelspec.prediction_type' };
  if (spec === 'epsilon' || spec === 'eps') return { prediction: 'eps', reason: 'metadata modelspec.prediction_type' };
  if (meta.ss_v_parameterization === 'True' || meta.ss_v_parameterization === 'true') return { prediction: 'v_prediction', reason: 'metadata ss_v_parameterization' };
  if (V_NAME_RE.test(basename(reader.path))) return { prediction: 'v_prediction', reason: 'file name' };
  if (family === 'sd2' && inChannels === 4) {
    const key = `${LDM_UNET_PREFIX}output_blocks.11.1.transformer_blocks.0.norm1.bias`;
    if (reader.has(key) && populationStd(reader.readF32(key)) > 0.09) return { prediction: 'v_prediction', reason: 'SD2 norm1.bias std heuristic (ComfyUI)' };
  }
  return { prediction: 'eps', reason: 'default' };
}

function populationStd(a: Float32Array): number {
  let mean = 0;
  for (const v of a) mean += v;
  mean /= a.length;
  let s = 0;
  for (const v of a) s += (v - mean) ** 2;
  return Math.sqrt(s / a.length);
}

/** prediction_type of a diffusers scheduler_config.json ("epsilon" | "v_prediction"). */
export function predictionFromSchedulerConfig(json: unknown, source = 'scheduler config'): PredictionType | undefined {
  const p = (json as { prediction_type?: unknown } | null)?.prediction_type;
  if (p === 'v_prediction') return 'v_prediction';
  if (p === 'epsilon') return 'eps';
  if (p === undefined || p === null) return undefined;
  // Ignoring an unknown value would sample with the wrong parameterisation: a plausible, wrong image.
  throw new CheckpointError(`${source}: prediction_type ${JSON.stringify(p)} is not supported — the generate pipeline knows "epsilon" and "v_prediction" (fix the file, or pass --prediction eps|v)`);
}
