// Attention kernel suite (`npm run bench -- int8attention`): can SD1.5's self-attention (64²: S=4096, 8
// heads of 40; 32²: S=1024, 8 heads of 80) run faster than com.microsoft.MultiHeadAttention (ORT's CPU
// flash attention, fp32) by going through ORT's integer GEMMs? Each case is a hand-built ONNX model fed
// q, k, v [1, S, C]; the error column is the relative L2 error vs MultiHeadAttention.
// Measured (ORT 1.30, 2 threads, quiet, ORT profiler): S=4096 MultiHeadAttention 98 ms; int8 in 16 query
// chunks 98 ms (QKᵀ MatMulIntegerToFloat at K=40 only 345 GOPS, P·V 766 GOPS, but the fp32 Softmax 24 ms
// and QuantizeLinear 17 ms passes over the 8×S×S probabilities eat the gain) with 87 % error: a fixed
// 1/255 scale rounds probabilities near 1/S to zero. fp32 MatMul/Softmax/MatMul 120 ms. S=1024: MHA 15.5 ms,
// int8 4 chunks 17.3 ms. So ORT's flash MHA stays; the last lines show what denormals cost it instead
// (flushing helps only the threads ORT sets it on: see SessionOptions.denormalsAsZero).
import { loadavg } from 'node:os';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { openSession } from '../src/runtime/ortSession.ts';
import { relativeError } from './fanInWeights.ts';
import { formatCpuShare, startCpuShare } from './machineLoad.ts';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;
const A = onnx.AttributeProto.AttributeType;

interface Init { name: string; dims: number[]; type: number; data: ArrayBufferView }
interface AttnCase { name: string; nodes: object[]; inits: Init[] }

const node = (opType: string, input: string[], output: string[], attribute: object[] = [], domain = '') => ({ opType, input, output, attribute, domain, name: `${opType}_${output[0]}` });
const ints = (name: string, v: number[]) => ({ name, type: A.INTS, ints: v });
const int = (name: string, v: number) => ({ name, type: A.INT, i: v });
const float = (name: string, v: number) => ({ name, type: A.FLOAT, f: v });
const i64 = (name: string, v: number[]): Init => ({ name, dims: [v.length], type: T.INT64, data: BigInt64Array.from(v.map(BigInt)) });
const f32 = (name: string, v: number): Init => ({ name, dims: [], type: T.FLOAT, data: Float32Array.of(v) });
const u8 = (name: string, v: number): Init => ({ name, dims: [], type: T.UINT8, data: Uint8Array.of(v) });
const s8 = (name: string, v: number): Init => ({ name, dims: [], type: T.INT8, data: Int8Array.of(v) });

export function model(c: AttnCase, s: number, ch: number): Uint8Array {
  const io = (name: string) => ({ name, type: { tensorType: { elemType: T.FLOAT, shape: { dim: [1, s, ch].map((d) => ({ dimValue: d })) } } } });
  const tensor = (i: Init) => onnx.TensorProto.create({ name: i.name, dims: i.dims, dataType: i.type, rawData: new Uint8Array(i.data.buffer, i.data.byteOffset, i.data.byteLength) });
  return onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 10, producerName: 'inkflow-bench',
    opsetImport: [{ domain: '', version: 21 }, { domain: 'com.microsoft', version: 1 }],
    graph: { name: c.name, node: c.nodes, initializer: c.inits.map(tensor), input: ['q', 'k', 'v'].map(io), output: [io('y')] },
  })).finish();
}

export function normal(n: number, std: number, seed: number): Float32Array {
  let st = seed >>> 0 || 1;
  const u = () => { st ^= st << 13; st >>>= 0; st ^= st >>> 17; st ^= st << 5; st >>>= 0; return (st + 0.5) / 2 ** 32; };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = std * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

export const mha = (heads: number, d: number): AttnCase => ({
  name: 'MultiHeadAttention fp32',
  nodes: [node('MultiHeadAttention', ['q', 'k', 'v'], ['y'], [int('num_heads', heads), float('scale', 1 / Math.sqrt(d))], 'com.microsoft')],
  inits: [],
});

/** [1, S, H·d] → [H, S, d] (or [H, d, S] for keys), and back. */
const toHeads = (x: string, out: string, s: number, heads: number, d: number, keys = false) => [
  node('Reshape', [x, 'hshape'], [`${out}_r`]),
  node('Transpose', [`${out}_r`], [out], [ints('perm', keys ? [1, 2, 0, 3] : [1, 0, 2, 3])]),
];

/**
 * Decomposed attention: scores = q·kᵀ, softmax, ·v over query chunks of `chunk` rows (every head at once).
 * int8: q as u8 (dynamic, per tensor), k and v as s8 (symmetric, per tensor), the probabilities as u8 with a
 * fixed 1/255 scale; the GEMMs are MatMulIntegerToFloat (int32 accumulation, float result).
 */
export function decomposed(s: number, heads: number, d: number, chunk: number, int8: boolean): AttnCase {
  const nodes: object[] = [];
  const inits: Init[] = [i64('hshape', [s, heads, d, 1]), i64('oshape', [1, s, heads * d])];
  nodes.push(...toHeads('q', 'qh', s, heads, d), ...toHeads('k', 'kt', s, heads, d, true), ...toHeads('v', 'vh', s, heads, d));
  // [S, H, d, 1] → q [H, S, d, 1]: drop the last axis.
  inits.push(i64('q3', [heads, s, d]), i64('k3', [heads, d, s]), i64('v3', [heads, s, d]));
  nodes.push(node('Reshape', ['qh', 'q3'], ['q3h']), node('Reshape', ['kt', 'k3'], ['k3h']), node('Reshape', ['vh', 'v3'], ['v3h']));
  let q = 'q3h';
  let k = 'k3h';
  let v = 'v3h';
  if (int8) {
    nodes.push(node('DynamicQuantizeLinear', ['q3h'], ['qq', 'qs', 'qz']));
    inits.push(s8('z8', 0), u8('zu8', 0), f32('inv127', 1 / 127), f32('pscale', 1 / 255), f32('attnScale', 1 / Math.sqrt(d)));
    for (const [src, dst] of [['k3h', 'kq'], ['v3h', 'vq']]) {
      nodes.push(
        node('Abs', [src], [`${dst}_abs`]),
        node('ReduceMax', [`${dst}_abs`], [`${dst}_max`], [int('keepdims', 0)]),
        node('Mul', [`${dst}_max`, 'inv127'], [`${dst}_s`]),
        node('QuantizeLinear', [src, `${dst}_s`, 'z8'], [dst]),
      );
    }
    nodes.push(node('Mul', ['kq_s', 'attnScale'], ['kq_ss']));
    q = 'qq';
    k = 'kq';
    v = 'vq';
  } else {
    inits.push(f32('attnScale', 1 / Math.sqrt(d)));
    nodes.push(node('Mul', ['q3h', 'attnScale'], ['q3s']));
    q = 'q3s';
  }
  const n = Math.ceil(s / chunk);
  const qChunks = Array.from({ length: n }, (_, i) => `qc${i}`);
  if (n > 1) {
    inits.push(i64('split', Array(n).fill(chunk)));
    nodes.push(node('Split', [q, 'split'], qChunks, [int('axis', 1)]));
  } else qChunks[0] = q;
  const outs: string[] = [];
  for (const [i, qc] of qChunks.entries()) {
    const o = `o${i}`;
    if (int8) {
      nodes.push(
        node('MatMulIntegerToFloat', [qc, k, 'qs', 'kq_ss', 'qz', 'z8'], [`sc${i}`], [], 'com.microsoft'),
        node('Softmax', [`sc${i}`], [`p${i}`], [int('axis', -1)]),
        node('QuantizeLinear', [`p${i}`, 'pscale', 'zu8'], [`pq${i}`]),
        node('MatMulIntegerToFloat', [`pq${i}`, v, 'pscale', 'vq_s', 'zu8', 'z8'], [o], [], 'com.microsoft'),
      );
    } else {
      nodes.push(node('MatMul', [qc, k], [`sc${i}`]), node('Softmax', [`sc${i}`], [`p${i}`], [int('axis', -1)]), node('MatMul', [`p${i}`, v], [o]));
    }
    outs.push(o);
  }
  if (n > 1) nodes.push(node('Concat', outs, ['oh'], [int('axis', 1)]));
  else nodes.push(node('Identity', outs, ['oh']));
  nodes.push(node('Transpose', ['oh'], ['ot'], [ints('perm', [1, 0, 2])]), node('Reshape', ['ot', 'oshape'], ['y']));
  return { name: `decomposed ${int8 ? 'int8' : 'fp32'}, ${n} query chunk${n > 1 ? 's' : ''}`, nodes, inits };
}

async function time(c: AttnCase, s: number, ch: number, feeds: Record<string, Float32Array>, runs: number, denormalsAsZero = false) {
  const session = await openSession(model(c, s, ch), { denormalsAsZero });
  const f = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('float32', v, [1, s, ch])]));
  try {
    let y = (await session.run(f)).y.data as Float32Array;
    let ms = Infinity;
    let share = '';
    for (let i = 0; i < runs; i++) {
      const since = startCpuShare();
      const t0 = performance.now();
      y = (await session.run(f)).y.data as Float32Array;
      const dt = performance.now() - t0;
      if (dt < ms) { ms = dt; share = formatCpuShare(since?.()); }
    }
    return { ms, y, share };
  } finally {
    await session.release();
  }
}

export async function runInt8AttentionBench(): Promise<void> {
  console.log(`load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const qkStd = Number(process.env.INKFLOW_BENCH_QK_STD ?? 1);
  for (const [s, heads, d] of [[4096, 8, 40], [1024, 8, 80]]) {
    const ch = heads * d;
    // q, k ~ N(0, qkStd²) per element: logits q·k/√d then have std qkStd² (1 for fan-in random weights).
    const feeds = { q: normal(s * ch, qkStd, 3), k: normal(s * ch, qkStd, 5), v: normal(s * ch, 1, 7) };
    const gflop = (4 * heads * s * s * d) / 1e9;
    const cases = [mha(heads, d), ...[1, 4, 16].flatMap((chunks) => [decomposed(s, heads, d, s / chunks, false), decomposed(s, heads, d, s / chunks, true)])];
    let ref: Float32Array | undefined;
    for (const c of cases) {
      const r = await time(c, s, ch, feeds, 5);
      ref ??= r.y;
      console.log(`S=${s} ${heads}×${d}  ${c.name.padEnd(36)} ${r.ms.toFixed(1).padStart(7)} ms  ${(gflop / (r.ms / 1000)).toFixed(0).padStart(4)} GFLOPS  rel.err ${(100 * relativeError(r.y, ref)).toFixed(2)} %  ${r.share}`);
    }
  }
  // Peaked attention (logits std 16, as trained models have): exp() of most scores underflows into
  // denormals unless the session flushes them (SessionOptions.denormalsAsZero, on for int8).
  const [s, heads, d] = [4096, 8, 40];
  const feeds = { q: normal(s * heads * d, 4, 3), k: normal(s * heads * d, 4, 5), v: normal(s * heads * d, 1, 7) };
  for (const ftz of [false, true]) {
    const r = await time(mha(heads, d), s, heads * d, feeds, 3, ftz);
    console.log(`S=${s} ${heads}×${d}  MultiHeadAttention, logits std 16, denormals ${ftz ? 'flushed' : 'kept'} ${r.ms.toFixed(1).padStart(7)} ms  ${r.share}`);
  }
}
