// How graphs receive parameter data. The graph layer only defines the contract; the weights layer
// implements it over safetensors files (with key maps and dtype conversion), tests use memoryWeights.
import { createHash } from 'node:crypto';
import { type DType, type Shape, DTYPE_BYTES, GraphError, fmtShape, numel } from './graph.ts';

export interface ParamData {
  readonly dtype: DType;
  readonly shape: Shape;
  /** Little-endian bytes in `dtype`. */
  readonly bytes: Uint8Array;
  /**
   * The dtype the checkpoint stores this tensor in, when narrower than `dtype` (an fp16 file served
   * as f32): the emitter can then keep it f16 in the model without losing anything.
   */
  readonly sourceDType?: 'f16';
}

export interface WeightStore {
  /** The data for a parameter, or undefined when the store has no such key. */
  get(name: string): ParamData | undefined;
  /** Identifies the stored values (file identity or content hash) for compile-cache keys. */
  fingerprint(): string;
  /** Key names, used for error messages that suggest near matches. */
  keys(): Iterable<string>;
}

export type HostArray = Float32Array | Uint16Array | BigInt64Array | Uint8Array;

export function toBytes(a: HostArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** A store over in-memory arrays (f32 unless given as {dtype, shape, data}). */
export function memoryWeights(entries: Record<string, Float32Array | { dtype: DType; shape: Shape; data: HostArray }>, shapes?: Record<string, Shape>): WeightStore {
  const map = new Map<string, ParamData>();
  for (const [name, v] of Object.entries(entries)) {
    if (v instanceof Float32Array) map.set(name, { dtype: 'f32', shape: shapes?.[name] ?? [v.length], bytes: toBytes(v) });
    else map.set(name, { dtype: v.dtype, shape: v.shape, bytes: toBytes(v.data) });
  }
  let fp: string | undefined;
  return {
    get: (name) => map.get(name),
    keys: () => map.keys(),
    fingerprint() {
      if (!fp) {
        const h = createHash('sha256');
        for (const [k, v] of [...map].sort(([a], [b]) => (a < b ? -1 : 1))) {
          h.update(`${k}:${v.dtype}:${fmtShape(v.shape)}`);
          h.update(v.bytes);
        }
        fp = h.digest('hex');
      }
      return fp;
    },
  };
}

/** Fetches a parameter and checks it against the graph's declaration, with messages naming the key. */
export function requireParam(store: WeightStore, name: string, dtype: DType, shape: Shape): ParamData {
  const p = store.get(name);
  if (!p) {
    const near = nearKeys(store, name);
    throw new GraphError(`missing weight "${name}" (expected ${dtype} ${fmtShape(shape)})${near.length ? `; similar keys: ${near.join(', ')}` : ''}`);
  }
  if (fmtShape(p.shape) !== fmtShape(shape)) {
    throw new GraphError(`weight "${name}" has shape ${fmtShape(p.shape)}, expected ${fmtShape(shape)}`);
  }
  if (p.dtype !== dtype) throw new GraphError(`weight "${name}" has dtype ${p.dtype}, expected ${dtype}`);
  if (p.bytes.byteLength !== numel(shape) * DTYPE_BYTES[dtype]) {
    throw new GraphError(`weight "${name}" has ${p.bytes.byteLength} bytes, ${dtype} ${fmtShape(shape)} needs ${numel(shape) * DTYPE_BYTES[dtype]}`);
  }
  return p;
}

function nearKeys(store: WeightStore, name: string): string[] {
  const parts = name.split('.');
  const tail = parts.slice(-2).join('.');
  const out: string[] = [];
  for (const k of store.keys()) {
    if (k.endsWith(tail)) out.push(k);
    if (out.length >= 3) break;
  }
  return out;
}
