// Primitive ops. Each function infers its output type and throws a GraphError naming the op and
// the offending shapes. Everything else (nn.ts) is built from these, so autodiff needs one rule
// per primitive. The set mirrors ONNX closely so the emitter is a direct translation.
import { type DType, type Shape, type Tensor, type Attrs, GraphError, fmtShape, numel } from './graph.ts';

/** The op names the emitter, interpreter and (later) autodiff must each handle. */
export const PRIMITIVES = [
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Equal', 'Less', 'Greater', 'Where',
  'Neg', 'Exp', 'Log', 'Sqrt', 'Tanh', 'Erf', 'Sigmoid', 'Sin', 'Cos', 'Abs', 'Reciprocal', 'Cast',
  'MatMul', 'Conv', 'ReduceSum', 'ReduceMean', 'ReduceMax', 'Reshape', 'Transpose', 'Slice', 'Concat',
  'Expand', 'Softmax', 'ResizeNearest', 'Gather', 'ArgMax',
] as const;
export type PrimitiveOp = (typeof PRIMITIVES)[number];

function fail(op: string, msg: string): never {
  throw new GraphError(`${op}: ${msg}`);
}

function one(op: string, inputs: Tensor[], attrs: Attrs, dtype: DType, shape: Shape): Tensor {
  return inputs[0].graph.addNode(op, inputs, attrs, [{ dtype, shape }])[0];
}

/** numpy broadcasting of two shapes. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) fail(op, `cannot broadcast ${fmtShape(a)} with ${fmtShape(b)}`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

function sameDType(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype) fail(op, `dtype mismatch ${a.dtype} vs ${b.dtype} (shapes ${fmtShape(a.shape)}, ${fmtShape(b.shape)})`);
}

function binary(op: string, a: Tensor, b: Tensor | number): Tensor {
  const bt = typeof b === 'number' ? scalar(a, b) : b;
  sameDType(op, a, bt);
  const isCmp = op === 'Equal' || op === 'Less' || op === 'Greater';
  return one(op, [a, bt], {}, isCmp ? 'bool' : a.dtype, broadcastShapes(op, a.shape, bt.shape));
}

/** A scalar constant with `like`'s dtype (shape [] broadcasts everywhere). */
export function scalar(like: Tensor, value: number): Tensor {
  return constant(like, [value], [], like.dtype);
}

/** A constant tensor in `like`'s graph. f16 constants are given as numbers and stored as f16 by the emitter. */
export function constant(like: Tensor, values: ArrayLike<number>, shape: Shape, dtype: DType = 'f32'): Tensor {
  const g = like.graph;
  if (dtype === 'i64') return g.constant({ dtype, shape, data: BigInt64Array.from(Array.from(values, (v) => BigInt(v))) });
  if (dtype === 'bool') return g.constant({ dtype, shape, data: Uint8Array.from(values) });
  if (dtype === 'f16') fail('constant', 'f16 constants are not supported; build in f32 and Cast');
  return g.constant({ dtype, shape, data: Float32Array.from(values) });
}

export const add = (a: Tensor, b: Tensor | number) => binary('Add', a, b);
export const sub = (a: Tensor, b: Tensor | number) => binary('Sub', a, b);
export const mul = (a: Tensor, b: Tensor | number) => binary('Mul', a, b);
export const div = (a: Tensor, b: Tensor | number) => binary('Div', a, b);
export const pow = (a: Tensor, b: Tensor | number) => binary('Pow', a, b);
export const maximum = (a: Tensor, b: Tensor | number) => binary('Max', a, b);
export const minimum = (a: Tensor, b: Tensor | number) => binary('Min', a, b);
export const equal = (a: Tensor, b: Tensor | number) => binary('Equal', a, b);
export const less = (a: Tensor, b: Tensor | number) => binary('Less', a, b);
export const greater = (a: Tensor, b: Tensor | number) => binary('Greater', a, b);

export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  if (cond.dtype !== 'bool') fail('Where', `condition must be bool, got ${cond.dtype}`);
  sameDType('Where', a, b);
  const shape = broadcastShapes('Where', broadcastShapes('Where', cond.shape, a.shape), b.shape);
  return one('Where', [cond, a, b], {}, a.dtype, shape);
}

function unary(op: string, x: Tensor): Tensor {
  if (x.dtype === 'bool' || x.dtype === 'i64') {
    if (op !== 'Neg' && op !== 'Abs') fail(op, `needs a float input, got ${x.dtype}`);
  }
  return one(op, [x], {}, x.dtype, x.shape);
}

export const neg = (x: Tensor) => unary('Neg', x);
export const exp = (x: Tensor) => unary('Exp', x);
export const log = (x: Tensor) => unary('Log', x);
export const sqrt = (x: Tensor) => unary('Sqrt', x);
export const tanh = (x: Tensor) => unary('Tanh', x);
export const erf = (x: Tensor) => unary('Erf', x);
export const sigmoid = (x: Tensor) => unary('Sigmoid', x);
export const sin = (x: Tensor) => unary('Sin', x);
export const cos = (x: Tensor) => unary('Cos', x);
export const abs = (x: Tensor) => unary('Abs', x);
export const reciprocal = (x: Tensor) => unary('Reciprocal', x);

export function cast(x: Tensor, to: DType): Tensor {
  if (x.dtype === to) return x;
  return one('Cast', [x], { to }, to, x.shape);
}

/** Batched matrix product with numpy broadcasting over leading dims; both inputs rank ≥ 2. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  sameDType('MatMul', a, b);
  if (a.shape.length < 2 || b.shape.length < 2) fail('MatMul', `inputs need rank ≥ 2, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const [m, k] = a.shape.slice(-2);
  const [k2, n] = b.shape.slice(-2);
  if (k !== k2) fail('MatMul', `inner dimensions differ: ${fmtShape(a.shape)} × ${fmtShape(b.shape)}`);
  const batch = broadcastShapes('MatMul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  return one('MatMul', [a, b], {}, a.dtype, [...batch, m, n]);
}

export interface ConvOptions {
  strides?: [number, number];
  /** [top, left, bottom, right] as in ONNX. */
  pads?: [number, number, number, number];
  dilations?: [number, number];
  group?: number;
}

/** 2-D convolution, NCHW input, weight [O, C/group, kh, kw], optional bias [O]. */
export function conv(x: Tensor, w: Tensor, b: Tensor | undefined, opts: ConvOptions = {}): Tensor {
  const strides = opts.strides ?? [1, 1];
  const pads = opts.pads ?? [0, 0, 0, 0];
  const dil = opts.dilations ?? [1, 1];
  const group = opts.group ?? 1;
  sameDType('Conv', x, w);
  if (x.shape.length !== 4) fail('Conv', `input must be NCHW, got ${fmtShape(x.shape)}`);
  if (w.shape.length !== 4) fail('Conv', `weight must be [O,C,kh,kw], got ${fmtShape(w.shape)}`);
  const [n, c, h, wd] = x.shape;
  const [o, ci, kh, kw] = w.shape;
  if (c !== ci * group) fail('Conv', `input has ${c} channels but weight ${fmtShape(w.shape)} with group ${group} expects ${ci * group}`);
  if (o % group !== 0) fail('Conv', `output channels ${o} not divisible by group ${group}`);
  if (b && (b.shape.length !== 1 || b.shape[0] !== o)) fail('Conv', `bias must be [${o}], got ${fmtShape(b.shape)}`);
  const oh = Math.floor((h + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) / strides[0]) + 1;
  const ow = Math.floor((wd + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) / strides[1]) + 1;
  if (oh <= 0 || ow <= 0) fail('Conv', `output would be empty for input ${fmtShape(x.shape)} and kernel ${kh}×${kw}`);
  const inputs = b ? [x, w, b] : [x, w];
  return one('Conv', inputs, { strides, pads, dilations: dil, group }, x.dtype, [n, o, oh, ow]);
}

function normAxes(op: string, rank: number, axes: readonly number[]): number[] {
  const out = axes.map((a) => (a < 0 ? a + rank : a));
  for (const a of out) if (a < 0 || a >= rank) fail(op, `axis out of range for rank ${rank}: ${axes.join(',')}`);
  return [...new Set(out)].sort((p, q) => p - q);
}

function reduce(op: string, x: Tensor, axes: readonly number[], keepdims: boolean): Tensor {
  const ax = normAxes(op, x.shape.length, axes);
  const shape = keepdims ? x.shape.map((d, i) => (ax.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !ax.includes(i));
  return one(op, [x], { axes: ax, keepdims: keepdims ? 1 : 0 }, x.dtype, shape);
}

export const reduceSum = (x: Tensor, axes: readonly number[], keepdims = true) => reduce('ReduceSum', x, axes, keepdims);
export const reduceMean = (x: Tensor, axes: readonly number[], keepdims = true) => reduce('ReduceMean', x, axes, keepdims);
export const reduceMax = (x: Tensor, axes: readonly number[], keepdims = true) => reduce('ReduceMax', x, axes, keepdims);

/** Reshape to a static shape; one −1 is inferred. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const total = numel(x.shape);
  const known = shape.filter((d) => d !== -1);
  if (shape.length - known.length > 1) fail('Reshape', `more than one -1 in ${fmtShape(shape)}`);
  const prod = numel(known);
  const resolved = shape.map((d) => (d === -1 ? total / prod : d));
  if (numel(resolved) !== total || resolved.some((d) => !Number.isInteger(d))) {
    fail('Reshape', `cannot reshape ${fmtShape(x.shape)} (${total} elements) to ${fmtShape(shape)}`);
  }
  if (fmtShape(resolved) === fmtShape(x.shape)) return x;
  return one('Reshape', [x], { shape: resolved }, x.dtype, resolved);
}

export function transpose(x: Tensor, perm: readonly number[]): Tensor {
  const r = x.shape.length;
  if (perm.length !== r || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    fail('Transpose', `perm ${fmtShape(perm)} is not a permutation of rank ${r}`);
  }
  return one('Transpose', [x], { perm }, x.dtype, perm.map((p) => x.shape[p]));
}

/** Static slice: for each axis, [start, end) with step (negative indices count from the end). */
export function slice(x: Tensor, axes: readonly number[], starts: readonly number[], ends: readonly number[], steps?: readonly number[]): Tensor {
  const st = steps ?? axes.map(() => 1);
  if (starts.length !== axes.length || ends.length !== axes.length || st.length !== axes.length) fail('Slice', 'axes/starts/ends/steps lengths differ');
  const shape = [...x.shape];
  const ax = axes.map((a) => (a < 0 ? a + shape.length : a));
  const ss: number[] = [];
  const es: number[] = [];
  ax.forEach((a, i) => {
    if (a < 0 || a >= shape.length) fail('Slice', `axis ${axes[i]} out of range for ${fmtShape(x.shape)}`);
    if (st[i] <= 0) fail('Slice', 'only positive steps are supported');
    const d = x.shape[a];
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
    const s = clamp(starts[i]);
    const e = clamp(ends[i]);
    if (e <= s) fail('Slice', `empty slice [${starts[i]}:${ends[i]}] on axis ${a} of ${fmtShape(x.shape)}`);
    shape[a] = Math.ceil((e - s) / st[i]);
    ss.push(s);
    es.push(e);
  });
  return one('Slice', [x], { axes: ax, starts: ss, ends: es, steps: st }, x.dtype, shape);
}

export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) fail('Concat', 'no inputs');
  if (xs.length === 1) return xs[0];
  const r = xs[0].shape.length;
  const a = axis < 0 ? axis + r : axis;
  const shape = [...xs[0].shape];
  shape[a] = 0;
  for (const t of xs) {
    sameDType('Concat', xs[0], t);
    if (t.shape.length !== r || t.shape.some((d, i) => i !== a && d !== xs[0].shape[i])) {
      fail('Concat', `shapes ${xs.map((u) => fmtShape(u.shape)).join(', ')} differ outside axis ${axis}`);
    }
    shape[a] += t.shape[a];
  }
  return one('Concat', xs as Tensor[], { axis: a }, xs[0].dtype, shape);
}

export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const out = broadcastShapes('Expand', x.shape, shape);
  if (fmtShape(out) === fmtShape(x.shape)) return x;
  return one('Expand', [x], { shape: out }, x.dtype, out);
}

export function softmax(x: Tensor, axis = -1): Tensor {
  const a = axis < 0 ? axis + x.shape.length : axis;
  if (a < 0 || a >= x.shape.length) fail('Softmax', `axis ${axis} out of range for ${fmtShape(x.shape)}`);
  return one('Softmax', [x], { axis: a }, x.dtype, x.shape);
}

/** Nearest-neighbour upsampling of the last two dims by integer factors (torch `interpolate(nearest)`). */
export function resizeNearest(x: Tensor, scaleH: number, scaleW = scaleH): Tensor {
  if (x.shape.length !== 4) fail('ResizeNearest', `input must be NCHW, got ${fmtShape(x.shape)}`);
  if (!Number.isInteger(scaleH) || !Number.isInteger(scaleW) || scaleH < 1 || scaleW < 1) fail('ResizeNearest', 'scales must be positive integers');
  const [n, c, h, w] = x.shape;
  return one('ResizeNearest', [x], { scales: [scaleH, scaleW] }, x.dtype, [n, c, h * scaleH, w * scaleW]);
}

/** Gathers slices along `axis` by integer indices (i64). Output shape = x[:axis] + idx.shape + x[axis+1:]. */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  if (indices.dtype !== 'i64') fail('Gather', `indices must be i64, got ${indices.dtype}`);
  const a = axis < 0 ? axis + x.shape.length : axis;
  const shape = [...x.shape.slice(0, a), ...indices.shape, ...x.shape.slice(a + 1)];
  return one('Gather', [x, indices], { axis: a }, x.dtype, shape);
}

export function argMax(x: Tensor, axis: number, keepdims = false): Tensor {
  const a = axis < 0 ? axis + x.shape.length : axis;
  const shape = keepdims ? x.shape.map((d, i) => (i === a ? 1 : d)) : x.shape.filter((_, i) => i !== a);
  return one('ArgMax', [x], { axis: a, keepdims: keepdims ? 1 : 0 }, 'i64', shape);
}
