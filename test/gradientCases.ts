// Small graphs that together differentiate through every primitive and fused op, with random
// float64 values for their (trainable) parameters. src/graph checks them against finite differences;
// src/train checks ORT's gradients against the interpreter's on the same cases.
import { createGraph, type Graph, type Shape, type Tensor, numel } from '../src/graph/graph.ts';
import * as op from '../src/graph/ops.ts';
import * as nn from '../src/graph/nn.ts';
import { grad, type GradOptions } from '../src/graph/autodiff.ts';
import type { Feed } from '../src/graph/interpret.ts';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
}

type Param = (shape: Shape, opts?: { positive?: boolean; scale?: number }) => Tensor;

export interface Case {
  name: string;
  build(g: Graph, p: Param): Tensor;
  /** Passes through a float16 cast, so ORT's float32 run differs from the interpreter by f16 rounding. */
  viaF16?: boolean;
  gradOptions?: GradOptions;
}

export const GRADIENT_CASES: Case[] = [
  { name: 'add/sub/mul/div with broadcasting', build: (_g, p) => {
    const a = p([2, 3, 4]);
    const b = p([3, 1]);
    return op.add(op.sub(op.mul(a, b), op.div(a, op.add(op.mul(b, b), 1))), op.add(a, b));
  } },
  { name: 'pow (both operands)', build: (_g, p) => op.pow(p([2, 3], { positive: true }), p([3])) },
  { name: 'max/min', build: (_g, p) => {
    const a = p([3, 4]);
    const b = p([4]);
    return op.add(op.maximum(a, b), op.mul(op.minimum(a, b), 2));
  } },
  { name: 'where over comparisons', build: (_g, p) => {
    const a = p([4, 5]);
    const b = p([5]);
    return op.add(op.where(op.less(a, b), op.mul(a, 3), b), op.where(op.greater(a, 0), a, op.where(op.equal(a, a), b, a)));
  } },
  ...(['neg', 'exp', 'log', 'sqrt', 'tanh', 'erf', 'sigmoid', 'sin', 'cos', 'abs', 'reciprocal'] as const).map((f): Case => ({
    name: f, build: (_g, p) => op[f](p([3, 5], { positive: f === 'log' || f === 'sqrt' || f === 'reciprocal' })),
  })),
  { name: 'cast f32→f16→f32, and an integer cast that stops the gradient', viaF16: true, build: (_g, p) => {
    const x = p([3, 4]);
    return op.mul(op.cast(op.cast(x, 'f16'), 'f32'), op.cast(op.cast(op.mul(x, 4), 'i64'), 'f32'));
  } },
  { name: 'matmul batched broadcast', build: (_g, p) => op.matmul(p([2, 3, 4, 5]), p([3, 5, 6])) },
  { name: 'linear (weight shared over a batch)', build: (_g, p) => op.add(op.matmul(p([2, 3, 4]), op.transpose(p([5, 4]), [1, 0])), p([5])) },
  { name: 'conv stride/pad/group/dilation + bias', build: (_g, p) => {
    const x = p([2, 4, 7, 6]);
    const a = op.conv(x, p([6, 2, 3, 3]), p([6]), { strides: [2, 1], pads: [1, 0, 1, 2], group: 2 });
    const b = op.conv(x, p([3, 4, 3, 2]), undefined, { dilations: [2, 1], strides: [1, 2] });
    return op.add(op.reduceSum(a, [1]), op.reduceSum(b, [1, 2, 3]));
  } },
  { name: 'conv 3×3 same + 1×1 (the UNet kinds)', build: (_g, p) => {
    const x = p([1, 3, 5, 5]);
    return op.add(op.conv(x, p([4, 3, 3, 3]), p([4]), { pads: [1, 1, 1, 1] }), op.conv(x, p([4, 3, 1, 1]), undefined));
  } },
  { name: 'conv stride 1 at 64² (input gradient as a flipped-kernel Conv), dilated, uneven pads', build: (_g, p) => {
    // A 64² input with few free values, so finite differences stay cheap: an 8² parameter upsampled
    // and modulated per pixel (every pixel's gradient still weighs into the check).
    const ripple = op.constant(p([1]), Array.from({ length: 64 * 64 }, (_, i) => 1 + 0.5 * Math.sin(i * 0.731)), [1, 1, 64, 64]);
    const x = op.mul(op.resizeNearest(p([1, 1, 8, 8]), 8), ripple);
    return op.add(op.conv(x, p([2, 1, 3, 3]), p([2]), { pads: [1, 1, 1, 1] }), op.conv(x, p([2, 1, 3, 2]), undefined, { dilations: [2, 1], pads: [1, 0, 3, 1] }));
  } },
  { name: 'conv transpose stride/pad/group/output padding', build: (_g, p) => {
    const x = p([2, 4, 3, 4]);
    return op.convTranspose(x, p([4, 3, 3, 2]), { strides: [2, 3], pads: [1, 0, 0, 1], group: 2, outputPadding: [1, 2], dilations: [1, 1] });
  } },
  { name: 'reductions (sum, mean, max)', build: (_g, p) => {
    const x = p([3, 4, 5]);
    return op.add(op.add(op.reduceSum(x, [0, 2], false), op.reduceMean(x, [2], false)), op.reduceMax(x, [-1], false));
  } },
  { name: 'reshape/transpose/slice (steps)/concat/expand/pad', build: (_g, p) => {
    const x = p([2, 3, 4]);
    const t = op.transpose(op.reshape(x, [6, 4]), [1, 0]);
    const s = op.slice(t, [0, 1], [1, 1], [4, 6], [2, 3]);
    const s2 = op.slice(x, [2], [1], [4]);
    const joined = op.concat([s, op.expand(p([1, 2]), [2, 2])], 1);
    return op.add(op.reduceSum(op.pad(joined, [1, 0, 0, 2]), [0, 1], false), op.reduceSum(s2, [0, 1, 2], false));
  } },
  { name: 'slices tiling an axis (GEGLU halves, joined by Concat) and slices that do not (padded and summed)', build: (_g, p) => {
    const x = p([2, 3, 6]);
    const halves = op.mul(op.slice(x, [2], [0], [3]), op.tanh(op.slice(x, [2], [3], [6])));
    const y = p([2, 5]);
    const overlapping = op.mul(op.slice(y, [1], [0], [3]), op.slice(y, [1], [2], [5]));
    return op.add(op.reduceSum(halves, [0, 1, 2], false), op.reduceSum(overlapping, [0, 1], false));
  } },
  { name: 'softmax (middle and last axis)', build: (_g, p) => op.add(op.softmax(p([3, 4, 5]), 1), op.softmax(p([3, 4, 5]), -1)) },
  { name: 'resize nearest', build: (_g, p) => op.resizeNearest(p([1, 2, 3, 4]), 2, 3) },
  { name: 'gather (repeated and negative indices) + argmax indices', build: (_g, p) => {
    const table = p([10, 4]);
    const idx = op.argMax(p([3, 10]), 1);
    const fixed = op.constant(table, [9, -1, 0, 9], [4], 'i64');
    return op.add(op.reduceSum(op.gather(table, idx, 0), [0], false), op.reduceSum(op.gather(table, fixed, 0), [0], false));
  } },
  { name: 'gather on a middle axis', build: (_g, p) => op.gather(p([2, 5, 3]), op.constant(p([1]), [4, 0, 4], [3], 'i64'), 1) },
  { name: 'group norm', build: (_g, p) => {
    const x = p([2, 8, 3, 3]);
    return nn.groupNorm(op.mul(x, p([1, 8, 1, 1])), 'gn', 4, 1e-6);
  } },
  { name: 'group norm through its primitive decomposition', gradOptions: { decomposeFused: true }, build: (_g, p) => nn.groupNorm(p([2, 8, 3, 3]), 'gn', 4, 1e-6) },
  { name: 'group norm on [N, C, L] (1-D spatial)', build: (_g, p) => nn.groupNorm(p([2, 6, 5]), 'gn', 3, 1e-5) },
  { name: 'layer norm', build: (_g, p) => nn.layerNorm(p([2, 5, 12]), 'ln') },
  { name: 'layer norm through its primitive decomposition', gradOptions: { decomposeFused: true }, build: (_g, p) => nn.layerNorm(p([2, 5, 12]), 'ln') },
  { name: 'gelu exact and tanh', build: (_g, p) => op.add(nn.gelu(p([4, 9])), nn.gelu(p([4, 9]), 'tanh')) },
  { name: 'attention (cross, 4 heads)', build: (_g, p) => nn.attention(p([2, 6, 16]), p([2, 5, 16]), p([2, 5, 8]), 4) },
  { name: 'attention backward two heads at a time', gradOptions: { attentionChunkElements: 2 * 2 * 6 * 5 }, build: (_g, p) => nn.attention(p([2, 6, 16]), p([2, 5, 16]), p([2, 5, 8]), 4) },
  { name: 'attention backward in blocks of one head and 4 of 6 query rows', gradOptions: { attentionChunkElements: 2 * 5 * 4 }, build: (_g, p) => nn.attention(p([2, 6, 16]), p([2, 5, 16]), p([2, 5, 8]), 4) },
  { name: 'attention through its primitive decomposition', gradOptions: { decomposeFused: true }, build: (_g, p) => nn.attention(p([2, 6, 16]), p([2, 5, 16]), p([2, 5, 8]), 4) },
  { name: 'self-attention (one tensor feeds q, k and v)', build: (_g, p) => {
    const x = p([1, 5, 8]);
    return nn.attention(x, op.mul(x, 0.7), x, 2, 0.4);
  } },
];

export interface BuiltGradientCase {
  train: Graph;
  forward: Graph;
  values: Record<string, Feed>;
  wrt: string[];
}

export function buildGradientCase(c: Case): BuiltGradientCase {
  const r = rng(c.name.length * 7919 + 17);
  const normal = () => Math.sqrt(-2 * Math.log(r())) * Math.cos(2 * Math.PI * r());
  const g = createGraph();
  const values: Record<string, Feed> = {};
  const p: Param = (shape, opts = {}) => {
    const name = `p${Object.keys(values).length}`;
    const data = Float64Array.from({ length: numel(shape) }, () => (opts.positive ? Math.abs(normal()) + 0.5 : normal() * (opts.scale ?? 1)));
    values[name] = { shape, data };
    return g.param(name, shape);
  };
  const out = c.build(g, p);
  // Named params created by nn layers (norm scales, biases) are trainable too.
  for (const [name, id] of g.params) {
    if (values[name]) continue;
    const shape = g.values[id].shape;
    values[name] = { shape, data: Float64Array.from({ length: numel(shape) }, () => (name.endsWith('weight') ? 1 : 0) + 0.3 * normal()) };
  }
  // A random cotangent so every output element's gradient matters: loss = Σ out·R.
  const weightsR = op.constant(out, Array.from({ length: numel(out.shape) }, normal), out.shape);
  g.output('loss', op.reduceSum(op.mul(out, weightsR), out.shape.map((_, i) => i), false));
  const wrt = [...g.params.keys()];
  return { train: grad(g, 'loss', wrt, c.gradOptions), forward: g, values, wrt };
}

