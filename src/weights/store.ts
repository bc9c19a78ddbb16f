// WeightStores over safetensors files: the graph asks for parameters by our (diffusers) names; a key
// map translates them to the file's names (LDM, kohya …); stored fp16/bf16 are converted to f32 on
// read, one tensor at a time, so a multi-GB checkpoint never sits in memory whole.
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import type { ParamData, WeightStore } from '../graph/weights.ts';
import { SafetensorsError, type SafetensorsReader } from './safetensors.ts';

const FLOAT_WEIGHT_DTYPES: ReadonlySet<string> = new Set(['F32', 'F16', 'BF16', 'F64']);

export interface SafetensorsStoreOptions {
  /** Our parameter name → the file's tensor name (identity when absent or returning undefined). */
  keyMap?: (name: string) => string | undefined;
  /** Prefix prepended to every looked-up name (e.g. "model.diffusion_model."). */
  prefix?: string;
}

function readerFingerprint(r: SafetensorsReader): string {
  const h = createHash('sha256');
  try {
    const st = statSync(r.path);
    h.update(`${r.path}:${st.size}:${st.mtimeMs}`);
  } catch {
    h.update(r.path); // in-memory buffer: the header (names, shapes, offsets) identifies it with the data hash below
  }
  for (const t of r.tensors.values()) h.update(`${t.name}:${t.dtype}:${t.shape.join(',')}:${t.byteOffset}:${t.byteLength};`);
  return h.digest('hex');
}

/** A store reading f32 parameters from one or more safetensors files (first file with the key wins). */
export function safetensorsWeights(readers: SafetensorsReader | readonly SafetensorsReader[], opts: SafetensorsStoreOptions = {}): WeightStore {
  const list = Array.isArray(readers) ? readers : [readers as SafetensorsReader];
  const prefix = opts.prefix ?? '';
  const resolve = (name: string): [SafetensorsReader, string] | undefined => {
    const key = prefix + (opts.keyMap?.(name) ?? name);
    const r = list.find((rd) => rd.has(key));
    return r ? [r, key] : undefined;
  };
  let fp: string | undefined;
  return {
    get(name): ParamData | undefined {
      const hit = resolve(name);
      if (!hit) return undefined;
      const [r, key] = hit;
      const info = r.info(key);
      // Model weights are floats. An integer label on a weight means the label lies (float bytes read as
      // integers give values near 1e9 and a saturated or black image) or a quantised file we cannot run.
      if (!FLOAT_WEIGHT_DTYPES.has(info.dtype)) {
        throw new SafetensorsError(`${r.path}: tensor "${key}" is labelled ${info.dtype}, but model weights must be floating point (F32, F16, BF16, F64) — the file's dtype label is wrong or the model is quantised (re-export it with float weights)`, r.path, key);
      }
      const data = r.readF32(key);
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      return info.dtype === 'F16' ? { dtype: 'f32', shape: info.shape, bytes, sourceDType: 'f16' } : { dtype: 'f32', shape: info.shape, bytes };
    },
    keys: () => list.flatMap((r) => [...r.tensors.keys()]),
    fingerprint: () => (fp ??= createHash('sha256').update(JSON.stringify({ prefix, map: String(opts.keyMap ?? ''), files: list.map(readerFingerprint) })).digest('hex')),
  };
}

/** A store that serves `overrides` (e.g. LoRA-merged tensors) first and falls back to `base`. */
export function overlayWeights(base: WeightStore, overrides: ReadonlyMap<string, ParamData>, label: string): WeightStore {
  return {
    get: (name) => overrides.get(name) ?? base.get(name),
    keys: () => base.keys(),
    fingerprint: () => createHash('sha256').update(base.fingerprint()).update(label).digest('hex'),
  };
}
