// Which tensors of a safetensors file hold NaN or ±inf. Run only after a stage produced non-finite
// values, to name the culprit (a NaN-poisoned UNet, a tensor whose dtype label lies so its bytes decode
// as inf/NaN); never on the normal path, where reading a whole 3.4 GB UNet would cost seconds.
import type { SafetensorsReader } from './safetensors.ts';

export interface NonFiniteTensor {
  /** The file's own tensor name. */
  name: string;
  /** Non-finite values in the tensor, of `total`. */
  count: number;
  total: number;
}

/** Counts NaN / ±inf (one subtraction per value: v − v is NaN exactly for them). */
function countNonFinite(a: Float32Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] - a[i] !== 0) n++;
  return n;
}

const FLOAT_DTYPES = new Set(['F64', 'F32', 'F16', 'BF16', 'F8_E4M3', 'F8_E5M2']);

/**
 * The float tensors of `reader` (only those whose name starts with `prefix`) holding NaN / ±inf, in
 * file order, at most `limit`. Tensors that cannot be read are skipped: this is a diagnosis, not a check.
 */
export function findNonFiniteTensors(reader: SafetensorsReader, opts: { prefix?: string; limit?: number } = {}): NonFiniteTensor[] {
  const limit = opts.limit ?? 5;
  const out: NonFiniteTensor[] = [];
  for (const [name, info] of reader.tensors) {
    if (opts.prefix && !name.startsWith(opts.prefix)) continue;
    if (!FLOAT_DTYPES.has(info.dtype)) continue;
    let data: Float32Array;
    try {
      data = reader.readF32(name);
    } catch {
      continue;
    }
    const count = countNonFinite(data);
    if (count > 0) {
      out.push({ name, count, total: data.length });
      if (out.length >= limit) break;
    }
  }
  return out;
}
