// Primitive op builders: each normalises its arguments into the op's attributes and records a node
// whose type comes from the op's record (registry.ts), so a shape error names the op and the shapes.
// Everything else (nn.ts, fused.ts) is built from these, so autodiff needs one rule per primitive.
import { type DType, type Shape, type Tensor, type Attrs, fmtShape, numel } from './graph.ts';
import { OPS, type PrimitiveOp } from './registry.ts';
import { broadcastShapes, fail } from './primitives/typeRules.ts';

export { PRIMITIVES, type PrimitiveOp } from './registry.ts';
export { broadcastShapes } from './primitives/typeRules.ts';

/** Records one primitive node after inferring its output type from the op's record. */
export function apply(name: PrimitiveOp, inputs: readonly Tensor[], attrs: Attrs = {}): Tensor {
  const out = OPS[name].infer(inputs, attrs);
  return inputs[0].graph.addNode(name, inputs, attrs, [out])[0];
}

function binary(name: PrimitiveOp, a: Tensor, b: Tensor | number): Tensor {
  return apply(name, [a, typeof b === 'number' ? scalar(a, b) : b]);
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
  return apply('Where', [cond, a, b]);
}

const unary = (name: PrimitiveOp, x: Tensor): Tensor => apply(name, [x]);

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
  return apply('Cast', [x], { to });
}

/** Batched matrix product with numpy broadcasting over leading dims; both inputs rank ≥ 2. */
export const matmul = (a: Tensor, b: Tensor): Tensor => apply('MatMul', [a, b]);

export interface ConvOptions {
  strides?: [number, number];
  /** [top, left, bottom, right] as in ONNX. */
  pads?: [number, number, number, number];
  dilations?: [number, number];
  group?: number;
}

function convAttrs(opts: ConvOptions): Attrs {
  return { strides: opts.strides ?? [1, 1], pads: opts.pads ?? [0, 0, 0, 0], dilations: opts.dilations ?? [1, 1], group: opts.group ?? 1 };
}

/** 2-D convolution, NCHW input, weight [O, C/group, kh, kw], optional bias [O]. */
export function conv(x: Tensor, w: Tensor, b: Tensor | undefined, opts: ConvOptions = {}): Tensor {
  return apply('Conv', b ? [x, w, b] : [x, w], convAttrs(opts));
}

/**
 * Transposed 2-D convolution (Conv's adjoint, the gradient of Conv by its input): x [N,Cin,H,W],
 * weight [Cin, Cout/group, kh, kw]; `outputPadding` adds rows/cols a strided Conv never read.
 */
export function convTranspose(x: Tensor, w: Tensor, opts: ConvOptions & { outputPadding?: [number, number] } = {}): Tensor {
  return apply('ConvTranspose', [x, w], { ...convAttrs(opts), outputPadding: opts.outputPadding ?? [0, 0] });
}

function normAxes(name: string, rank: number, axes: readonly number[]): number[] {
  const out = axes.map((a) => (a < 0 ? a + rank : a));
  for (const a of out) if (a < 0 || a >= rank) fail(name, `axis out of range for rank ${rank}: ${axes.join(',')}`);
  return [...new Set(out)].sort((p, q) => p - q);
}

function reduce(name: PrimitiveOp, x: Tensor, axes: readonly number[], keepdims: boolean): Tensor {
  return apply(name, [x], { axes: normAxes(name, x.shape.length, axes), keepdims: keepdims ? 1 : 0 });
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
  return apply('Reshape', [x], { shape: resolved });
}

export const transpose = (x: Tensor, perm: readonly number[]): Tensor => apply('Transpose', [x], { perm });

/** Static slice: for each axis, [start, end) with step (negative indices count from the end). */
export function slice(x: Tensor, axes: readonly number[], starts: readonly number[], ends: readonly number[], steps?: readonly number[]): Tensor {
  const st = steps ?? axes.map(() => 1);
  if (starts.length !== axes.length || ends.length !== axes.length || st.length !== axes.length) fail('Slice', 'axes/starts/ends/steps lengths differ');
  const ax = axes.map((a) => (a < 0 ? a + x.shape.length : a));
  const ss: number[] = [];
  const es: number[] = [];
  ax.forEach((a, i) => {
    if (a < 0 || a >= x.shape.length) fail('Slice', `axis ${axes[i]} out of range for ${fmtShape(x.shape)}`);
    if (st[i] <= 0) fail('Slice', 'only positive steps are supported');
    const d = x.shape[a];
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
    const s = clamp(starts[i]);
    const e = clamp(ends[i]);
    if (e <= s) fail('Slice', `empty slice [${starts[i]}:${ends[i]}] on axis ${a} of ${fmtShape(x.shape)}`);
    ss.push(s);
    es.push(e);
  });
  return apply('Slice', [x], { axes: ax, starts: ss, ends: es, steps: st });
}

export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) fail('Concat', 'no inputs');
  if (xs.length === 1) return xs[0];
  return apply('Concat', xs, { axis: axis < 0 ? axis + xs[0].shape.length : axis });
}

export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const out = broadcastShapes('Expand', x.shape, shape);
  if (fmtShape(out) === fmtShape(x.shape)) return x;
  return apply('Expand', [x], { shape: out });
}

/** Zero padding: `pads` = [begin of each axis…, end of each axis…] (ONNX order), all ≥ 0. */
export function pad(x: Tensor, pads: readonly number[]): Tensor {
  return apply('Pad', [x], { pads });
}

export function softmax(x: Tensor, axis = -1): Tensor {
  return apply('Softmax', [x], { axis: axis < 0 ? axis + x.shape.length : axis });
}

/** Nearest-neighbour upsampling of the last two dims by integer factors (torch `interpolate(nearest)`). */
export function resizeNearest(x: Tensor, scaleH: number, scaleW = scaleH): Tensor {
  if (!Number.isInteger(scaleH) || !Number.isInteger(scaleW) || scaleH < 1 || scaleW < 1) fail('ResizeNearest', 'scales must be positive integers');
  return apply('ResizeNearest', [x], { scales: [scaleH, scaleW] });
}

/** Gathers slices along `axis` by integer indices (i64). Output shape = x[:axis] + idx.shape + x[axis+1:]. */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  return apply('Gather', [x, indices], { axis: axis < 0 ? axis + x.shape.length : axis });
}

export function argMax(x: Tensor, axis: number, keepdims = false): Tensor {
  return apply('ArgMax', [x], { axis: axis < 0 ? axis + x.shape.length : axis, keepdims: keepdims ? 1 : 0 });
}
