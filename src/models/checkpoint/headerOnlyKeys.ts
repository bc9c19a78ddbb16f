// Test-only: header-only safetensors files with real key names and shapes (the data section is a sparse hole),
// so key coverage of multi-GB checkpoints can be checked without their weights. The helpers enumerate
// modules the way the original code (sgm / diffusers) names them, independently of inkflow's graph builders.
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';

export type Keys = Map<string, { shape: number[]; dtype: 'F16' | 'F32' | 'I64' }>;

const DTYPE_SIZE = { F16: 2, F32: 4, I64: 8 } as const;
export type Add = (name: string, shape: number[]) => void;

export function keyList(): { add: Add; addI64: Add; keys: Keys } {
  const keys: Keys = new Map();
  return { keys, add: (n, s) => keys.set(n, { shape: s, dtype: 'F16' }), addI64: (n, s) => keys.set(n, { shape: s, dtype: 'I64' }) };
}
export const norm = (add: Add, p: string, c: number) => (add(`${p}.weight`, [c]), add(`${p}.bias`, [c]));
export const conv = (add: Add, p: string, o: number, i: number, k: number) => (add(`${p}.weight`, [o, i, k, k]), add(`${p}.bias`, [o]));
export const linear = (add: Add, p: string, o: number, i: number, bias = true) => {
  add(`${p}.weight`, [o, i]);
  if (bias) add(`${p}.bias`, [o]);
};

/** sgm ResBlock: in_layers (GroupNorm, SiLU, conv), emb_layers (SiLU, Linear), out_layers (GroupNorm, SiLU, Dropout, conv). */
export function resBlock(add: Add, p: string, cin: number, cout: number, temb: number): void {
  norm(add, `${p}.in_layers.0`, cin);
  conv(add, `${p}.in_layers.2`, cout, cin, 3);
  linear(add, `${p}.emb_layers.1`, cout, temb);
  norm(add, `${p}.out_layers.0`, cout);
  conv(add, `${p}.out_layers.3`, cout, cout, 3);
  if (cin !== cout) conv(add, `${p}.skip_connection`, cout, cin, 1);
}

/** sgm SpatialTransformer with linear projections and `depth` BasicTransformerBlocks (GEGLU feed-forward). */
export function spatialTransformer(add: Add, p: string, c: number, depth: number, ctx: number): void {
  norm(add, `${p}.norm`, c);
  linear(add, `${p}.proj_in`, c, c);
  for (let d = 0; d < depth; d++) {
    const b = `${p}.transformer_blocks.${d}`;
    for (const q of ['to_q', 'to_k', 'to_v']) linear(add, `${b}.attn1.${q}`, c, c, false);
    linear(add, `${b}.attn1.to_out.0`, c, c);
    linear(add, `${b}.ff.net.0.proj`, 8 * c, c);
    linear(add, `${b}.ff.net.2`, c, 4 * c);
    linear(add, `${b}.attn2.to_q`, c, c, false);
    linear(add, `${b}.attn2.to_k`, c, ctx, false);
    linear(add, `${b}.attn2.to_v`, c, ctx, false);
    linear(add, `${b}.attn2.to_out.0`, c, c);
    for (const n of ['norm1', 'norm2', 'norm3']) norm(add, `${b}.${n}`, c);
  }
  linear(add, `${p}.proj_out`, c, c);
}

export function paramCount(keys: Keys, prefix: string): number {
  let n = 0;
  for (const [k, v] of keys) if (k.startsWith(prefix) && v.dtype === 'F16') n += v.shape.reduce((p, q) => p * q, 1);
  return n;
}

export function writeHeaderOnly(path: string, keys: Keys): number {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  let floatParams = 0;
  for (const [name, { shape, dtype }] of [...keys].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const n = shape.reduce((p, q) => p * q, 1);
    const bytes = n * DTYPE_SIZE[dtype];
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
    if (dtype !== 'I64') floatParams += n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, len);
    writeSync(fd, Buffer.from(json, 'utf8'));
    ftruncateSync(fd, 8 + json.length + offset);
  } finally {
    closeSync(fd);
  }
  return floatParams;
}

