// What OpenCLIP's text and vision towers share (open_clip `Transformer` resblocks): the resblock key
// names under transformers' CLIP names, and a store that serves those names from an OpenCLIP-layout
// file, splitting the fused q|k|v `in_proj` rows and transposing `x @ proj` matrices into Linear weights.
//   transformer.resblocks.i.ln_1 / ln_2               → encoder.layers.i.layer_norm1 / layer_norm2
//   ….attn.in_proj_weight/bias [3D, D] rows q|k|v      → self_attn.{q,k,v}_proj
//   ….attn.out_proj, mlp.c_fc, mlp.c_proj              → self_attn.out_proj, mlp.fc1, mlp.fc2
import { createHash } from 'node:crypto';
import type { ParamData, WeightStore } from '../../graph/weights.ts';
import type { SafetensorsReader } from '../safetensors.ts';
import { safetensorsWeights } from '../store.ts';

export interface OpenClipKey {
  key: string;
  /** Rows [start, end) of a fused in_proj tensor. */
  rows?: [number, number];
  /** Stored as [in, out] for `x @ W`; served as the Linear weight [out, in]. */
  transpose?: boolean;
}

const RESBLOCK_PARTS: Record<string, string> = {
  layer_norm1: 'ln_1', layer_norm2: 'ln_2', 'self_attn.out_proj': 'attn.out_proj', 'mlp.fc1': 'mlp.c_fc', 'mlp.fc2': 'mlp.c_proj',
};

/** `<tower>.encoder.layers.i.<part>.<weight|bias>` → the OpenCLIP resblock tensor; `width` = D. */
export function openClipResblockKey(name: string, encoderPrefix: string, width: number): OpenClipKey | undefined {
  if (!name.startsWith(encoderPrefix)) return undefined;
  const m = /^layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name.slice(encoderPrefix.length));
  if (!m) return undefined;
  const [, i, part, kind] = m;
  const base = `transformer.resblocks.${i}`;
  const qkv = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj'].indexOf(part);
  if (qkv >= 0) return { key: `${base}.attn.in_proj_${kind}`, rows: [qkv * width, (qkv + 1) * width] };
  return RESBLOCK_PARTS[part] ? { key: `${base}.${RESBLOCK_PARTS[part]}.${kind}` } : undefined;
}

/** Row-major [r, c] → [c, r]. */
export function transposeMatrix(data: Float32Array, r: number, c: number): Float32Array {
  const t = new Float32Array(r * c);
  for (let a = 0; a < r; a++) for (let b = 0; b < c; b++) t[b * r + a] = data[a * c + b];
  return t;
}

function f32Param(data: Float32Array, shape: readonly number[], sourceDType?: 'f16'): ParamData {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return sourceDType ? { dtype: 'f32', shape, bytes, sourceDType } : { dtype: 'f32', shape, bytes };
}

/** A store serving transformers names from the OpenCLIP tower under `prefix` (any stored float dtype, as f32). */
export function openClipTowerWeights(reader: SafetensorsReader, prefix: string, keyOf: (name: string) => OpenClipKey | undefined, label: string): WeightStore {
  let fp: string | undefined;
  return {
    get(name) {
      const k = keyOf(name);
      const full = k && prefix + k.key;
      if (!k || !full || !reader.has(full)) return undefined;
      const info = reader.info(full);
      const data = reader.readF32(full);
      // Row slices and transposes of fp16 values are still exact fp16 values: they stay f16-stored.
      const f16 = info.dtype === 'F16' ? 'f16' : undefined;
      if (k.rows) {
        const cols = info.shape.length === 2 ? info.shape[1] : 1;
        const rows = k.rows[1] - k.rows[0];
        return f32Param(data.slice(k.rows[0] * cols, k.rows[1] * cols), info.shape.length === 2 ? [rows, cols] : [rows], f16);
      }
      if (k.transpose && info.shape.length === 2) {
        const [r, c] = info.shape;
        return f32Param(transposeMatrix(data, r, c), [c, r], f16);
      }
      return f32Param(data, info.shape, f16);
    },
    keys: () => [...reader.tensors.keys()].filter((k) => k.startsWith(prefix)),
    fingerprint: () => (fp ??= createHash('sha256').update(`${label}:${prefix}:`).update(safetensorsWeights(reader).fingerprint()).digest('hex')),
  };
}
