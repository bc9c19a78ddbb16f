// int8 kernel suite (`npm run bench -- int8kernels`): which quantised ONNX ops onnxruntime runs fast on
// this CPU, at SD1.5's hottest shapes (3×3 conv 320→320 at 64², a 4096×320×320 linear), against the
// fp32 op of the same shape. Each case is a hand-built one-op ONNX model (not an IR graph) so the
// comparison is of ORT kernels alone; the error column is the relative L2 error vs the fp32 result.
import { cpus } from 'node:os';
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { openSession } from '../src/runtime/ortSession.ts';
import { machineRoof } from './roof.ts';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;
const A = onnx.AttributeProto.AttributeType;

interface Init { name: string; dims: number[]; type: number; data: ArrayBufferView }
interface KernelCase { name: string; nodes: object[]; inits: Init[]; x: { name: string; dims: number[] }; out: number[] }

const tensor = (i: Init) => onnx.TensorProto.create({ name: i.name, dims: i.dims, dataType: i.type, rawData: new Uint8Array(i.data.buffer, i.data.byteOffset, i.data.byteLength) });
const node = (opType: string, input: string[], output: string[], attribute: object[] = [], domain = '') => ({ opType, input, output, attribute, domain, name: `${opType}_${output[0]}` });
const ints = (name: string, v: number[]) => ({ name, type: A.INTS, ints: v });
const int = (name: string, v: number) => ({ name, type: A.INT, i: v });

function model(c: KernelCase): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 10, producerName: 'inkflow-bench',
    opsetImport: [{ domain: '', version: 21 }, { domain: 'com.microsoft', version: 1 }],
    graph: {
      name: c.name, node: c.nodes, initializer: c.inits.map(tensor),
      input: [{ name: c.x.name, type: { tensorType: { elemType: T.FLOAT, shape: { dim: c.x.dims.map((d) => ({ dimValue: d })) } } } }],
      output: [{ name: 'y', type: { tensorType: { elemType: T.FLOAT, shape: { dim: c.out.map((d) => ({ dimValue: d })) } } } }],
    },
  })).finish();
}

/** Deterministic pseudo-random normal values (Box–Muller over a xorshift stream). */
function normal(n: number, std: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const u = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return (s + 0.5) / 2 ** 32; };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = std * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

/** Per-output-channel symmetric int8: w[o, …] ≈ q[o, …]·scale[o]. */
function quantizePerChannel(w: Float32Array, outC: number): { q: Int8Array; scale: Float32Array } {
  const per = w.length / outC;
  const q = new Int8Array(w.length);
  const scale = new Float32Array(outC);
  for (let o = 0; o < outC; o++) {
    let m = 0;
    for (let i = 0; i < per; i++) m = Math.max(m, Math.abs(w[o * per + i]));
    const s = m > 0 ? m / 127 : 1;
    scale[o] = s;
    for (let i = 0; i < per; i++) q[o * per + i] = Math.max(-127, Math.min(127, Math.round(w[o * per + i] / s)));
  }
  return { q, scale };
}

function transposeQ(q: Int8Array, rows: number, cols: number): Int8Array {
  const t = new Int8Array(q.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = q[r * cols + c];
  return t;
}

function matmulCases(m: number, k: number, n: number): KernelCase[] {
  const w = normal(n * k, 1 / Math.sqrt(k), 7); // torch Linear layout [out=n, in=k]
  const wt = new Float32Array(k * n);
  for (let o = 0; o < n; o++) for (let i = 0; i < k; i++) wt[i * n + o] = w[o * k + i];
  const { q, scale } = quantizePerChannel(w, n);
  const qt = transposeQ(q, n, k); // [k, n]
  const x = { name: 'x', dims: [m, k] };
  const out = [m, n];
  const wInit: Init = { name: 'w', dims: [k, n], type: T.FLOAT, data: wt };
  const qInit: Init = { name: 'wq', dims: [k, n], type: T.INT8, data: qt };
  const sInit: Init = { name: 'ws', dims: [n], type: T.FLOAT, data: scale };
  const zInit: Init = { name: 'wz', dims: [n], type: T.INT8, data: new Int8Array(n) };
  return [
    { name: `MatMul fp32 ${m}×${k}×${n}`, nodes: [node('MatMul', ['x', 'w'], ['y'])], inits: [wInit], x, out },
    {
      name: 'DQL+MatMulInteger+Cast+Mul', x, out, inits: [qInit, sInit, zInit],
      nodes: [
        node('DynamicQuantizeLinear', ['x'], ['xq', 'xs', 'xz']),
        node('MatMulInteger', ['xq', 'wq', 'xz', 'wz'], ['acc']),
        node('Cast', ['acc'], ['accf'], [int('to', T.FLOAT)]),
        node('Mul', ['xs', 'ws'], ['s']),
        node('Mul', ['accf', 's'], ['y']),
      ],
    },
    { name: 'ms.DynamicQuantizeMatMul', x, out, inits: [qInit, sInit, zInit], nodes: [node('DynamicQuantizeMatMul', ['x', 'wq', 'ws', 'wz'], ['y'], [], 'com.microsoft')] },
    { name: 'ms.DynamicQuantizeMatMul (no zp)', x, out, inits: [qInit, sInit], nodes: [node('DynamicQuantizeMatMul', ['x', 'wq', 'ws'], ['y'], [], 'com.microsoft')] },
    {
      name: 'DQL+ms.MatMulIntegerToFloat (no b zp)', x, out, inits: [qInit, sInit],
      nodes: [
        node('DynamicQuantizeLinear', ['x'], ['xq', 'xs', 'xz']),
        node('MatMulIntegerToFloat', ['xq', 'wq', 'xs', 'ws', 'xz'], ['y'], [], 'com.microsoft'),
      ],
    },
    {
      name: 'DQL+ms.MatMulIntegerToFloat', x, out, inits: [qInit, sInit, zInit],
      nodes: [
        node('DynamicQuantizeLinear', ['x'], ['xq', 'xs', 'xz']),
        node('MatMulIntegerToFloat', ['xq', 'wq', 'xs', 'ws', 'xz', 'wz'], ['y'], [], 'com.microsoft'),
      ],
    },
  ];
}

function convCases(c: number, hw: number, k: number): KernelCase[] {
  const w = normal(c * c * k * k, 1 / Math.sqrt(c * k * k), 11);
  const { q, scale } = quantizePerChannel(w, c);
  const x = { name: 'x', dims: [1, c, hw, hw] };
  const out = [1, c, hw, hw];
  const attrs = [ints('kernel_shape', [k, k]), ints('pads', Array(4).fill((k - 1) / 2))];
  const wInit: Init = { name: 'w', dims: [c, c, k, k], type: T.FLOAT, data: w };
  const qInit: Init = { name: 'wq', dims: [c, c, k, k], type: T.INT8, data: q };
  const sInit: Init = { name: 'ws', dims: [1, c, 1, 1], type: T.FLOAT, data: scale };
  const sFlat: Init = { name: 'wsf', dims: [c], type: T.FLOAT, data: scale };
  const zInit: Init = { name: 'wz', dims: [c], type: T.INT8, data: new Int8Array(c) };
  const z0: Init = { name: 'wz0', dims: [], type: T.INT8, data: new Int8Array(1) };
  const u8q = new Uint8Array(q.length);
  for (let i = 0; i < q.length; i++) u8q[i] = q[i] + 128;
  const qu8: Init = { name: 'wqu', dims: [c, c, k, k], type: T.UINT8, data: u8q };
  const zu8: Init = { name: 'wzu', dims: [], type: T.UINT8, data: new Uint8Array([128]) };
  // QLinearConv needs a static output scale: pick one that covers the fp32 output (≈ 4σ of a unit-variance result).
  const ys: Init = { name: 'ys', dims: [], type: T.FLOAT, data: new Float32Array([8 / 255]) };
  const yz: Init = { name: 'yz', dims: [], type: T.UINT8, data: new Uint8Array([128]) };
  return [
    { name: `Conv fp32 ${c}ch ${hw}² ${k}×${k}`, nodes: [node('Conv', ['x', 'w'], ['y'], attrs)], inits: [wInit], x, out },
    {
      name: 'DQL+ConvInteger(s8 w)+Cast+Mul', x, out, inits: [qInit, sInit, z0],
      nodes: [
        node('DynamicQuantizeLinear', ['x'], ['xq', 'xs', 'xz']),
        node('ConvInteger', ['xq', 'wq', 'xz', 'wz0'], ['acc'], attrs),
        node('Cast', ['acc'], ['accf'], [int('to', T.FLOAT)]),
        node('Mul', ['xs', 'ws'], ['s']),
        node('Mul', ['accf', 's'], ['y']),
      ],
    },
    {
      name: 'DQL+ConvInteger(u8 w)+Cast+Mul', x, out, inits: [qu8, sInit, zu8],
      nodes: [
        node('DynamicQuantizeLinear', ['x'], ['xq', 'xs', 'xz']),
        node('ConvInteger', ['xq', 'wqu', 'xz', 'wzu'], ['acc'], attrs),
        node('Cast', ['acc'], ['accf'], [int('to', T.FLOAT)]),
        node('Mul', ['xs', 'ws'], ['s']),
        node('Mul', ['accf', 's'], ['y']),
      ],
    },
    im2colCase(c, hw, k, q, scale),
    im2colCase(c, hw, k, q, scale, true),
    {
      name: 'DQL+QLinearConv+DequantizeLinear', x, out, inits: [qInit, sFlat, zInit, ys, yz],
      nodes: [
        node('DynamicQuantizeLinear', ['x'], ['xq', 'xs', 'xz']),
        node('QLinearConv', ['xq', 'xs', 'xz', 'wq', 'wsf', 'wz', 'ys', 'yz'], ['yq'], attrs),
        node('DequantizeLinear', ['yq', 'ys', 'yz'], ['y']),
      ],
    },
  ];
}

/**
 * Conv as an int8 GEMM over a u8 im2col: quantise the NHWC activations once, take the k² shifted
 * windows of the zero-point-padded u8 tensor, and multiply by the [k²·C, O] int8 weights with a float
 * result (exact int32 accumulation, no output requantisation).
 */
function im2colCase(c: number, hw: number, k: number, q: Int8Array, scale: Float32Array, gather = false): KernelCase {
  const pad = (k - 1) / 2;
  // weights [O, C, kh, kw] → rows ordered (kh, kw, C) to match the concatenated windows, columns O.
  const wm = new Int8Array(k * k * c * c);
  for (let o = 0; o < c; o++) for (let ci = 0; ci < c; ci++) for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
    wm[((i * k + j) * c + ci) * c + o] = q[((o * c + ci) * k + i) * k + j];
  }
  const i64 = (name: string, v: number[]): Init => ({ name, dims: [v.length], type: T.INT64, data: BigInt64Array.from(v.map(BigInt)) });
  const inits: Init[] = [
    { name: 'wm', dims: [k * k * c, c], type: T.INT8, data: wm },
    { name: 'ws', dims: [c], type: T.FLOAT, data: scale },
    i64('pads', [0, pad, pad, 0, 0, pad, pad, 0]),
    i64('shape2', [hw * hw, k * k * c]),
    i64('axes', [1, 2]),
  ];
  const nodes: object[] = [
    node('DynamicQuantizeLinear', ['x'], ['xq0', 'xs', 'xz']),
    node('Transpose', ['xq0'], ['xq'], [ints('perm', [0, 2, 3, 1])]),
    node('Pad', ['xq', 'pads', 'xz'], ['xp']),
  ];
  if (gather) {
    // One Gather of k² padded-pixel rows per output pixel instead of k² Slices and a Concat.
    const wp = hw + 2 * pad;
    const idx = new BigInt64Array(hw * hw * k * k);
    for (let y = 0; y < hw; y++) for (let x = 0; x < hw; x++) for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) idx[((y * hw + x) * k + i) * k + j] = BigInt((y + i) * wp + x + j);
    inits.push({ name: 'idx', dims: [hw * hw, k * k], type: T.INT64, data: idx }, i64('rows', [wp * wp, c]));
    nodes.push(node('Reshape', ['xp', 'rows'], ['xr']), node('Gather', ['xr', 'idx'], ['cols'], [int('axis', 0)]));
  } else {
    const windows: string[] = [];
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
      inits.push(i64(`st${i}${j}`, [i, j]), i64(`en${i}${j}`, [i + hw, j + hw]));
      nodes.push(node('Slice', ['xp', `st${i}${j}`, `en${i}${j}`, 'axes'], [`win${i}${j}`]));
      windows.push(`win${i}${j}`);
    }
    nodes.push(node('Concat', windows, ['cols'], [int('axis', 3)]));
  }
  nodes.push(
    node('Reshape', ['cols', 'shape2'], ['m']),
    node('MatMulIntegerToFloat', ['m', 'wm', 'xs', 'ws', 'xz'], ['ym'], [], 'com.microsoft'),
    node('Reshape', ['ym', 'oshape'], ['yh']),
    node('Transpose', ['yh'], ['y'], [ints('perm', [0, 3, 1, 2])]),
  );
  inits.push(i64('oshape', [1, hw, hw, c]));
  return { name: `im2col u8 (${gather ? 'Gather' : 'Slices+Concat'}) + MMIToFloat`, nodes, inits, x: { name: 'x', dims: [1, c, hw, hw] }, out: [1, c, hw, hw] };
}

async function time(c: KernelCase, feed: Float32Array, runs: number): Promise<{ ms: number; y?: Float32Array; error?: string }> {
  let session: ort.InferenceSession;
  try {
    session = await openSession(model(c));
  } catch (err) {
    return { ms: NaN, error: (err as Error).message.split('\n')[0].slice(0, 140) };
  }
  const feeds = { [c.x.name]: new ort.Tensor('float32', feed, c.x.dims) };
  try {
    let y = (await session.run(feeds)).y.data as Float32Array;
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      y = (await session.run(feeds)).y.data as Float32Array;
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return { ms: times[0], y }; // fastest run: the machine is shared, slower runs measure other people's work
  } catch (err) {
    return { ms: NaN, error: (err as Error).message.split('\n')[0].slice(0, 140) };
  } finally {
    await session.release();
  }
}

function relError(y: Float32Array, ref: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < y.length; i++) { num += (y[i] - ref[i]) ** 2; den += ref[i] ** 2; }
  return Math.sqrt(num / den);
}

function vnniFlags(): string {
  try {
    const flags = readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1].split(/\s+/) ?? [];
    return ['avx512_vnni', 'avx_vnni', 'avx512_bf16', 'amx_int8'].map((f) => `${f}=${flags.includes(f) ? 'yes' : 'no'}`).join(' ');
  } catch {
    return 'flags unknown';
  }
}

export async function runInt8KernelBench(): Promise<void> {
  console.log(`cpu: ${cpus()[0]?.model} ×${cpus().length}; ${vnniFlags()}`);
  const groups: { flops: number; cases: KernelCase[]; feed: Float32Array }[] = [
    // Activations: GroupNorm+SiLU outputs are roughly unit-scale with a long positive tail.
    { flops: 2 * 4096 * 320 * 320, cases: matmulCases(4096, 320, 320), feed: normal(4096 * 320, 1, 3) },
    { flops: 2 * 64 * 64 * 320 * 320 * 9, cases: convCases(320, 64, 3), feed: normal(320 * 64 * 64, 1, 5) },
  ];
  for (const { flops, cases, feed } of groups) {
    let ref: Float32Array | undefined;
    let refMs = NaN;
    const roofGflops = (await machineRoof()).gflops;
    for (const c of cases) {
      const r = await time(c, feed, 20);
      if (r.error) { console.log(`${c.name.padEnd(36)} unavailable: ${r.error}`); continue; }
      if (!ref) { ref = r.y; refMs = r.ms; }
      const gops = flops / r.ms / 1e6;
      const err = ref && r.y ? relError(r.y, ref) : 0;
      console.log(`${c.name.padEnd(36)} ${r.ms.toFixed(2).padStart(8)} ms  ${gops.toFixed(0).padStart(5)} G(fp32-eq)OPS  ${(refMs / r.ms).toFixed(2)}× fp32  (${((100 * gops) / roofGflops).toFixed(0)}% of fp32 roof)  rel.err ${(100 * err).toFixed(2)}%`);
    }
  }
}
