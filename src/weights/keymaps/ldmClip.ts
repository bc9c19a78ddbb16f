// Text-encoder keys of single-file checkpoints, served under transformers' CLIPTextModel names
// (`text_model.*`, `text_projection.weight`).
// - SD1 (`cond_stage_model.transformer.*`) stores a transformers CLIPTextModel: a prefix, nothing more
//   (very old files lack the `text_model.` level).
// - SD2 (`cond_stage_model.model.*`) stores OpenCLIP: fused attention in_proj [3D, D] split into q/k/v,
//   `resblocks.i.{ln_1, ln_2, mlp.c_fc, mlp.c_proj}`, `ln_final`, `positional_embedding`, and
//   `text_projection` stored [D, P] (used as x @ P) — transposed to a Linear weight [P, D].
// Sources: diffusers `single_file_utils.py` (convert_open_clip_checkpoint), ComfyUI `comfy/supported_models.py`.
import type { WeightStore } from '../../graph/weights.ts';
import type { SafetensorsReader } from '../safetensors.ts';
import { safetensorsWeights } from '../store.ts';
import { type OpenClipKey, openClipResblockKey, openClipTowerWeights } from './openClipTower.ts';

export type ClipTextLayout =
  | { kind: 'transformers'; prefix: string; /** false for files without the `text_model.` level */ textModel: boolean }
  | { kind: 'openclip'; prefix: string; layers: number };

const TRANSFORMERS_PREFIXES = ['', 'cond_stage_model.transformer.', 'text_encoder.', 'conditioner.embedders.0.transformer.'];
const OPENCLIP_PREFIXES = ['cond_stage_model.model.', 'conditioner.embedders.1.model.', ''];

export function detectClipTextLayout(reader: SafetensorsReader): ClipTextLayout | undefined {
  for (const prefix of TRANSFORMERS_PREFIXES) {
    if (reader.has(`${prefix}text_model.embeddings.token_embedding.weight`)) return { kind: 'transformers', prefix, textModel: true };
    if (prefix && reader.has(`${prefix}embeddings.token_embedding.weight`)) return { kind: 'transformers', prefix, textModel: false };
  }
  for (const prefix of OPENCLIP_PREFIXES) {
    if (reader.has(`${prefix}token_embedding.weight`) && reader.has(`${prefix}transformer.resblocks.0.ln_1.weight`)) {
      let layers = 0;
      while (reader.has(`${prefix}transformer.resblocks.${layers}.ln_1.weight`)) layers++;
      return { kind: 'openclip', prefix, layers };
    }
  }
  return undefined;
}

/** Our name → OpenCLIP text tensor (+ row slice for q/k/v, transpose for the projection); `hidden` = D. */
export function openClipTextKey(name: string, hidden: number): OpenClipKey | undefined {
  const fixed: Record<string, OpenClipKey> = {
    'text_model.embeddings.token_embedding.weight': { key: 'token_embedding.weight' },
    'text_model.embeddings.position_embedding.weight': { key: 'positional_embedding' },
    'text_model.final_layer_norm.weight': { key: 'ln_final.weight' },
    'text_model.final_layer_norm.bias': { key: 'ln_final.bias' },
    'text_projection.weight': { key: 'text_projection', transpose: true },
  };
  return fixed[name] ?? openClipResblockKey(name, 'text_model.encoder.', hidden);
}

/** A store serving transformers CLIPTextModel names from a single-file checkpoint. */
export function ldmClipTextWeights(reader: SafetensorsReader, layout: ClipTextLayout): WeightStore {
  if (layout.kind === 'transformers') {
    return safetensorsWeights(reader, { prefix: layout.prefix, keyMap: layout.textModel ? undefined : (n) => n.replace(/^text_model\./, '') });
  }
  const hidden = reader.info(`${layout.prefix}token_embedding.weight`).shape[1];
  return openClipTowerWeights(reader, layout.prefix, (name) => openClipTextKey(name, hidden), 'openclip-text');
}
