// Text-encoder keys of single-file checkpoints, served under transformers' CLIPTextModel names
// (`text_model.*`, `text_projection.weight`).
// - SD1 (`cond_stage_model.transformer.*`) stores a transformers CLIPTextModel: a prefix, nothing more
//   (very old files lack the `text_model.` level).
// - SD2 (`cond_stage_model.model.*`) stores OpenCLIP: fused attention in_proj [3D, D] split into q/k/v,
//   `resblocks.i.{ln_1, ln_2, mlp.c_fc, mlp.c_proj}`, `ln_final`, `positional_embedding`, and
//   `text_projection` stored [D, P] (used as x @ P) — transposed to a Linear weight [P, D].
// Sources: diffusers `single_file_utils.py` (convert_open_clip_checkpoint), ComfyUI `comfy/supported_models.py`.
import { createHash } from 'node:crypto';
import type { ParamData, WeightStore } from '../../graph/weights.ts';
import type { SafetensorsReader } from '../safetensors.ts';
import { safetensorsWeights } from '../store.ts';

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

interface OpenClipKey {
  key: string;
  /** Rows [start, end) of a fused in_proj tensor. */
  rows?: [number, number];
  transpose?: boolean;
}

/** Our name → OpenCLIP tensor (+ row slice for q/k/v, transpose for the projection); `hidden` = D. */
export function openClipTextKey(name: string, hidden: number): OpenClipKey | undefined {
  const fixed: Record<string, OpenClipKey> = {
    'text_model.embeddings.token_embedding.weight': { key: 'token_embedding.weight' },
    'text_model.embeddings.position_embedding.weight': { key: 'positional_embedding' },
    'text_model.final_layer_norm.weight': { key: 'ln_final.weight' },
    'text_model.final_layer_norm.bias': { key: 'ln_final.bias' },
    'text_projection.weight': { key: 'text_projection', transpose: true },
  };
  if (fixed[name]) return fixed[name];
  const m = /^text_model\.encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  if (!m) return undefined;
  const [, i, part, kind] = m;
  const base = `transformer.resblocks.${i}`;
  const qkv = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj'].indexOf(part);
  if (qkv >= 0) return { key: `${base}.attn.in_proj_${kind}`, rows: [qkv * hidden, (qkv + 1) * hidden] };
  const parts: Record<string, string> = {
    layer_norm1: 'ln_1', layer_norm2: 'ln_2', 'self_attn.out_proj': 'attn.out_proj', 'mlp.fc1': 'mlp.c_fc', 'mlp.fc2': 'mlp.c_proj',
  };
  return parts[part] ? { key: `${base}.${parts[part]}.${kind}` } : undefined;
}

function f32Param(data: Float32Array, shape: readonly number[]): ParamData {
  return { dtype: 'f32', shape, bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** A store serving transformers CLIPTextModel names from a single-file checkpoint. */
export function ldmClipTextWeights(reader: SafetensorsReader, layout: ClipTextLayout): WeightStore {
  if (layout.kind === 'transformers') {
    return safetensorsWeights(reader, { prefix: layout.prefix, keyMap: layout.textModel ? undefined : (n) => n.replace(/^text_model\./, '') });
  }
  const hidden = reader.info(`${layout.prefix}token_embedding.weight`).shape[1];
  let fp: string | undefined;
  return {
    get(name) {
      const k = openClipTextKey(name, hidden);
      if (!k || !reader.has(layout.prefix + k.key)) return undefined;
      const info = reader.info(layout.prefix + k.key);
      const data = reader.readF32(layout.prefix + k.key);
      if (k.rows) {
        const cols = info.shape.length === 2 ? info.shape[1] : 1;
        const slice = data.slice(k.rows[0] * cols, k.rows[1] * cols);
        return f32Param(slice, info.shape.length === 2 ? [k.rows[1] - k.rows[0], cols] : [k.rows[1] - k.rows[0]]);
      }
      if (k.transpose && info.shape.length === 2) {
        const [r, c] = info.shape;
        const t = new Float32Array(r * c);
        for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = data[i * c + j];
        return f32Param(t, [c, r]);
      }
      return f32Param(data, info.shape);
    },
    keys: () => reader.tensors.keys(),
    fingerprint: () => (fp ??= createHash('sha256').update(`openclip-text:${layout.prefix}:`).update(safetensorsWeights(reader).fingerprint()).digest('hex')),
  };
}
