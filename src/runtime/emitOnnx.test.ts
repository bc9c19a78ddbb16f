// Emitter vs reference interpreter, op by op, on random inputs: every primitive and every fused
// op (both fused and decomposed lowering) must agree with the obvious float64 implementation.
// It lives in runtime, not graph, because it runs the emitted models through onnxruntime (session.ts).
import { describe, it, expect } from 'vitest';
import { createGraph, type Tensor, type Graph, type Shape, numel } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import * as nn from '../graph/nn.ts';
import { PRIMITIVES } from '../graph/ops.ts';
import { FUSED_OPS } from '../graph/fused.ts';
import { interpret } from '../graph/interpret.ts';
import { memoryWeights, type WeightStore } from '../graph/weights.ts';
import { compile } from './session.ts';
import { openSession } from './ortSession.ts';
import { emitOnnx, type LoweringChoice } from '../graph/emitOnnx.ts';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randn(n: number, r: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  return a;
}

interface Case {
  name: string;
  covers: string[];
  build(g: Graph, inp: (shape: Shape, positive?: boolean) => Tensor): Tensor;
}

const CASES: Case[] = [
  ...(['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'] as const).map((f) => ({
    name: f, covers: [({ add: 'Add', sub: 'Sub', mul: 'Mul', div: 'Div', pow: 'Pow', maximum: 'Max', minimum: 'Min' } as const)[f]],
    build: (_g: Graph, inp: (s: Shape, p?: boolean) => Tensor) => op[f](inp([2, 3, 4], f === 'pow' || f === 'div'), inp([3, 1], f === 'div')),
  })),
  ...(['neg', 'exp', 'log', 'sqrt', 'tanh', 'erf', 'sigmoid', 'sin', 'cos', 'abs', 'reciprocal'] as const).map((f) => ({
    name: f, covers: [f === 'reciprocal' ? 'Reciprocal' : f[0].toUpperCase() + f.slice(1)],
    build: (_g: Graph, inp: (s: Shape, p?: boolean) => Tensor) => op[f](inp([5, 7], f === 'log' || f === 'sqrt' || f === 'reciprocal')),
  })),
  { name: 'compare+where', covers: ['Equal', 'Less', 'Greater', 'Where'], build: (_g, inp) => {
    const a = inp([4, 6]); const b = inp([6]);
    return op.add(op.where(op.less(a, b), a, b), op.where(op.greater(a, 0), op.where(op.equal(a, a), a, b), b));
  } },
  { name: 'cast', covers: ['Cast'], build: (_g, inp) => op.cast(op.cast(op.mul(inp([3, 5]), 4), 'i64'), 'f32') },
  { name: 'matmul batched broadcast', covers: ['MatMul'], build: (_g, inp) => op.matmul(inp([2, 3, 4, 5]), inp([3, 5, 6])) },
  { name: 'conv stride/pad/group/dilation', covers: ['Conv'], build: (g, inp) => {
    const x = inp([2, 4, 9, 7]);
    const a = op.conv(x, g.param('w1', [6, 2, 3, 3]), g.param('b1', [6]), { strides: [2, 1], pads: [1, 0, 1, 2], group: 2 });
    return op.add(op.reduceSum(a, [2, 3]), op.reduceSum(op.conv(x, g.param('w2', [3, 4, 3, 2]), undefined, { dilations: [2, 1] }), [1, 2, 3]));
  } },
  { name: 'conv transpose stride/pad/group/dilation/output padding', covers: ['ConvTranspose'], build: (g, inp) => {
    const x = inp([2, 4, 5, 4]);
    const a = op.convTranspose(x, g.param('w1', [4, 3, 3, 3]), { strides: [2, 1], pads: [1, 0, 0, 1], group: 2, outputPadding: [1, 0] });
    return op.add(op.reduceSum(a, [1, 2, 3]), op.reduceSum(op.convTranspose(x, g.param('w2', [4, 2, 2, 3]), { dilations: [2, 1], strides: [1, 2] }), [1, 2, 3]));
  } },
  { name: 'pad', covers: ['Pad'], build: (_g, inp) => op.pad(inp([2, 3, 4]), [0, 1, 2, 1, 0, 3]) },
  { name: 'reductions', covers: ['ReduceSum', 'ReduceMean', 'ReduceMax'], build: (_g, inp) => {
    const x = inp([3, 4, 5]);
    return op.add(op.add(op.reduceSum(x, [0, 2], false), op.reduceMean(x, [2], false)), op.reduceMax(x, [-1], false));
  } },
  { name: 'reshape/transpose/slice/concat/expand', covers: ['Reshape', 'Transpose', 'Slice', 'Concat', 'Expand'], build: (_g, inp) => {
    const x = inp([2, 3, 4]);
    const t = op.transpose(op.reshape(x, [6, 4]), [1, 0]);
    const s = op.slice(t, [0, 1], [1, -5], [4, 6], [2, 1]);
    return op.concat([s, op.expand(inp([1, 5]), [2, 5])], 1);
  } },
  { name: 'softmax', covers: ['Softmax'], build: (_g, inp) => op.add(op.softmax(inp([3, 4, 5]), 1), op.softmax(inp([3, 4, 5]), -1)) },
  { name: 'resize nearest', covers: ['ResizeNearest'], build: (_g, inp) => op.resizeNearest(inp([1, 2, 3, 4]), 2, 3) },
  { name: 'gather + argmax', covers: ['Gather', 'ArgMax'], build: (_g, inp) => {
    const table = inp([10, 4]);
    const idx = op.argMax(inp([3, 10]), 1);
    return op.add(op.gather(table, idx, 0), op.gather(table, op.constant(table, [9, -1, 0], [3], 'i64'), 0));
  } },
];

const FUSED_CASES: Case[] = [
  { name: 'group norm', covers: ['GroupNorm'], build: (g, inp) => nn.groupNorm(inp([2, 8, 3, 5]), 'gn', 4, 1e-6) },
  { name: 'layer norm', covers: ['LayerNorm'], build: (g, inp) => nn.layerNorm(inp([2, 5, 12]), 'ln') },
  { name: 'gelu exact and tanh', covers: ['Gelu'], build: (_g, inp) => op.add(nn.gelu(inp([4, 9])), nn.gelu(inp([4, 9]), 'tanh')) },
  { name: 'attention (cross, 4 heads)', covers: ['Attention'], build: (_g, inp) => nn.attention(inp([2, 6, 16]), inp([2, 5, 16]), inp([2, 5, 8]), 4) },
];

async function check(c: Case, fuse: 'all' | 'none'): Promise<number> {
  const r = rng(c.name.length * 7919 + 1);
  const g = createGraph();
  const feeds: Record<string, { shape: Shape; data: Float32Array }> = {};
  const inp = (shape: Shape, positive = false) => {
    const name = `x${Object.keys(feeds).length}`;
    const data = randn(numel(shape), r);
    if (positive) for (let i = 0; i < data.length; i++) data[i] = Math.abs(data[i]) + 0.5;
    feeds[name] = { shape, data };
    return g.input(name, 'f32', shape);
  };
  g.output('y', c.build(g, inp));
  const params: Record<string, Float32Array> = {};
  const shapes: Record<string, Shape> = {};
  for (const [name, id] of g.params) {
    const shape = g.values[id].shape;
    params[name] = randn(numel(shape), r);
    if (name.endsWith('weight') && (name.startsWith('gn') || name.startsWith('ln'))) params[name] = params[name].map((v) => 1 + 0.1 * v);
    shapes[name] = shape;
  }
  const weights: WeightStore = memoryWeights(params, shapes);
  const expected = interpret(g, feeds, weights).y;
  const model = await compile(g, weights, { fuse, cacheDir: false });
  const got = (await model.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, v.data])))).y;
  await model.release();
  expect(got.shape).toEqual(expected.shape);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < expected.data.length; i++) {
    err = Math.max(err, Math.abs(Number(got.data[i]) - expected.data[i]));
    scale = Math.max(scale, Math.abs(expected.data[i]));
  }
  return err / Math.max(1, scale);
}

describe('ONNX emitter matches the reference interpreter', () => {
  it('covers every primitive and fused op', () => {
    const covered = new Set([...CASES, ...FUSED_CASES].flatMap((c) => c.covers));
    expect([...PRIMITIVES].filter((p) => !covered.has(p))).toEqual([]);
    expect([...FUSED_OPS].filter((p) => !covered.has(p))).toEqual([]);
  });
  for (const c of CASES) {
    it(c.name, async () => expect(await check(c, 'none')).toBeLessThan(1e-5));
  }
  for (const c of FUSED_CASES) {
    it(`${c.name} (fused lowering)`, async () => expect(await check(c, 'all')).toBeLessThan(1e-5));
    it(`${c.name} (decomposed)`, async () => expect(await check(c, 'none')).toBeLessThan(1e-5));
  }
});

describe('lowering choices', () => {
  const opTypes = (bytes: Uint8Array) => onnxProto.onnx.ModelProto.decode(bytes).graph!.node!.map((n) => n.opType!);
  function gegluAndNorm() {
    const g = createGraph();
    const x = g.input('x', 'f32', [1, 8, 2, 3]);
    const tokens = op.reshape(op.transpose(nn.groupNorm(x, 'gn', 4), [0, 2, 3, 1]), [1, 6, 8]);
    const h = nn.linear(tokens, 'ff', 8, 12);
    g.output('y', op.mul(op.slice(h, [2], [0], [6]), nn.gelu(op.slice(h, [2], [6], [12]))));
    const r = rng(5);
    const params: Record<string, Float32Array> = {};
    const shapes: Record<string, Shape> = {};
    for (const [name, id] of g.params) {
      shapes[name] = g.values[id].shape;
      params[name] = randn(numel(shapes[name]), r);
    }
    return { g, weights: memoryWeights(params, shapes), x: randn(48, r) };
  }

  it('slices of a Linear become Linears on weight rows, GroupNorm\'s affine one BatchNormalization, its stats a LayerNormalization', () => {
    const { g, weights } = gegluAndNorm();
    const after = opTypes(emitOnnx(g, weights, { lowering: { groupNormAffine: 'batchNorm', splitSlicedLinears: true, groupNormStats: 'layerNorm' } }));
    const before = opTypes(emitOnnx(g, weights));
    expect(after.filter((t) => t === 'MatMul')).toHaveLength(2);
    expect(before.filter((t) => t === 'MatMul')).toHaveLength(1);
    expect(after).toContain('BatchNormalization');
    expect(before).not.toContain('BatchNormalization');
    expect(after).toContain('LayerNormalization');
    expect(after).not.toContain('InstanceNormalization');
  });

  it('rewrites a bias-free Linear too, and leaves one whose whole output is also used', async () => {
    const g = createGraph();
    const x = g.input('x', 'f32', [5, 6]);
    const a = nn.linear(x, 'a', 6, 8, false);
    const b = nn.linear(x, 'b', 6, 8);
    g.output('y', op.add(op.mul(op.slice(a, [1], [0], [4]), op.slice(a, [1], [4], [8])), op.add(op.slice(b, [1], [2], [6]), op.reduceSum(b, [1]))));
    const r = rng(9);
    const params: Record<string, Float32Array> = {};
    const shapes: Record<string, Shape> = {};
    for (const [name, id] of g.params) {
      shapes[name] = g.values[id].shape;
      params[name] = randn(numel(shapes[name]), r);
    }
    const weights = memoryWeights(params, shapes);
    const bytes = emitOnnx(g, weights, { lowering: { splitSlicedLinears: true } });
    expect(opTypes(bytes).filter((t) => t === 'MatMul')).toHaveLength(3);
    const xs = randn(30, r);
    const s = await openSession(bytes, { threads: 1 });
    const got = (await s.run({ x: new ort.Tensor('float32', xs, [5, 6]) })).y.data as Float32Array;
    await s.release();
    const expected = interpret(g, { x: { shape: [5, 6], data: xs } }, weights).y.data;
    for (let i = 0; i < expected.length; i++) expect(Math.abs(got[i] - expected[i])).toBeLessThan(1e-4);
  });

  it('every choice gives the same result', async () => {
    const { g, weights, x } = gegluAndNorm();
    const choices: LoweringChoice[] = [{}, { groupNormAffine: 'batchNorm' }, { groupNormStats: 'layerNorm' }, { splitSlicedLinears: true }, { groupNormAffine: 'batchNorm', groupNormStats: 'layerNorm', splitSlicedLinears: true }];
    const outs: Float32Array[] = [];
    for (const lowering of choices) {
      const s = await openSession(emitOnnx(g, weights, { lowering }), { threads: 1 });
      outs.push((await s.run({ x: new ort.Tensor('float32', x, [1, 8, 2, 3]) })).y.data as Float32Array);
      await s.release();
    }
    const expected = interpret(g, { x: { shape: [1, 8, 2, 3], data: x } }, weights).y.data;
    for (const out of outs) for (let i = 0; i < expected.length; i++) expect(Math.abs(out[i] - expected[i])).toBeLessThan(1e-5);
  });
});
