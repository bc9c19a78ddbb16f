// Every VJP rule against central finite differences on the float64 interpreter. Coverage is derived
// from the graphs themselves: a primitive or fused op that no case differentiates through fails the
// coverage test, so a new op cannot arrive without a gradient check.
import { describe, it, expect } from 'vitest';
import { createGraph } from './graph.ts';
import * as op from './ops.ts';
import * as nn from './nn.ts';
import { OPS, PRIMITIVES } from './registry.ts';
import { FUSED_OPS, lowerGraph } from './fused.ts';
import { grad, gradOutputName, LOSS_OUTPUT } from './autodiff.ts';
import { checkGradients } from './gradientCheck.ts';
import { interpret } from './interpret.ts';
import { memoryWeights } from './weights.ts';
import { ATTENTION_CHUNK_ELEMENTS, attentionBlocks } from './attentionVjp.ts';
import { GRADIENT_CASES as CASES, buildGradientCase as build, type BuiltGradientCase as Built } from '../../test/gradientCases.ts';

/** Ops that some case differentiates through: every op in the forward graph and its primitive lowering. */
function opsOf(b: Built): Set<string> {
  return new Set([...b.forward.nodes, ...lowerGraph(b.forward).nodes].map((n) => n.op));
}

const results: { name: string; maxError: number; maxGrad: number; checked: number }[] = [];

describe('gradient rules match central finite differences (float64 interpreter)', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const b = build(c);
      const res = checkGradients(b.train, b.values, b.wrt);
      results.push({ name: c.name, ...res });
      expect(res.checked).toBeGreaterThan(0);
      expect(res.maxGrad).toBeGreaterThan(1e-3);
      expect(res.maxError).toBeLessThan(1e-6);
    });
  }

  it('covers every differentiable primitive and every fused op', () => {
    const covered = new Set(CASES.flatMap((c) => [...opsOf(build(c))]));
    const differentiable = PRIMITIVES.filter((p) => OPS[p].vjp !== 'none');
    expect(differentiable.filter((p) => !covered.has(p))).toEqual([]);
    expect(FUSED_OPS.filter((p) => !covered.has(p))).toEqual([]);
    // Ops without a rule are exactly those with boolean or integer results.
    expect(PRIMITIVES.filter((p) => OPS[p].vjp === 'none')).toEqual(['Equal', 'Less', 'Greater', 'ArgMax']);
    if (process.env.INKFLOW_GRAD_REPORT) console.table(results);
  });
});

describe('attention backward', () => {
  it('splits the recomputed scores into blocks of heads and query rows under the element bound', () => {
    // By default SD1.5 at 512² keeps whole rows (64² self-attention: two heads per block); at 1024² one head's
    // 16384² scores are split into 2048-row blocks.
    expect(attentionBlocks(1, 8, 4096, 4096, ATTENTION_CHUNK_ELEMENTS)).toEqual({ heads: 2, rows: 4096 });
    expect(attentionBlocks(1, 8, 16384, 16384, ATTENTION_CHUNK_ELEMENTS)).toEqual({ heads: 1, rows: 2048 });
    // With 4 MB blocks: one head and 256 of its 4096 rows; the cross-attention (77 keys) two whole heads.
    expect(attentionBlocks(1, 8, 4096, 4096, 2 ** 20)).toEqual({ heads: 1, rows: 256 });
    expect(attentionBlocks(1, 8, 4096, 77, 2 ** 20)).toEqual({ heads: 2, rows: 4096 });
    expect(attentionBlocks(1, 8, 1024, 77, 2 ** 25)).toEqual({ heads: 8, rows: 1024 });
    expect(attentionBlocks(1, 5, 100, 100, 2 * 10000)).toEqual({ heads: 1, rows: 100 });
    expect(attentionBlocks(2, 4, 6, 5, 2 * 2 * 6 * 5)).toEqual({ heads: 2, rows: 6 });
    expect(attentionBlocks(2, 4, 6, 5, 2 * 5 * 4)).toEqual({ heads: 1, rows: 4 });
    const softmaxes = (name: string) => build(CASES.find((c) => c.name === name)!).train.nodes.filter((n) => n.op === 'Softmax').length;
    expect(softmaxes('attention backward two heads at a time')).toBe(2);
    expect(softmaxes('attention backward in blocks of one head and 4 of 6 query rows')).toBe(8);
    expect(softmaxes('attention (cross, 4 heads)')).toBe(1);
  });

  it('never transposes a score-sized block (dK and dV are built transposed instead)', () => {
    // Score-sized: the probabilities (Softmax) and dS = P ⊙ (dP − D) (a Mul reading them).
    const { train } = build(CASES.find((c) => c.name === 'attention backward in blocks of one head and 4 of 6 query rows')!);
    const writer = new Map(train.nodes.flatMap((n) => n.outputs.map((id) => [id, n] as const)));
    const isProbs = (id: number) => writer.get(id)?.op === 'Softmax';
    const scoreSized = (id: number) => isProbs(id) || (writer.get(id)?.op === 'Mul' && writer.get(id)!.inputs.some(isProbs));
    const transposes = train.nodes.filter((n) => n.op === 'Transpose');
    expect(transposes.length).toBeGreaterThan(0);
    expect(train.nodes.filter((n) => n.op === 'Softmax').length).toBe(8);
    expect(transposes.filter((n) => scoreSized(n.inputs[0])).map((n) => train.values[n.inputs[0]].shape)).toEqual([]);
  });
});

describe('grad()', () => {
  it('joins the gradients of slices that tile an axis with one Concat, not a Pad per slice', () => {
    const g = createGraph('geglu');
    const h = op.matmul(g.input('x', 'f32', [1, 4, 3]), g.param('w', [3, 8]));
    g.output('loss', op.reduceSum(op.mul(op.slice(h, [2], [0], [4]), op.tanh(op.slice(h, [2], [4], [8]))), [0, 1, 2], false));
    const ops = grad(g, 'loss', ['x']).nodes.map((n) => n.op);
    expect(ops.filter((o) => o === 'Pad')).toEqual([]);
    expect(ops.filter((o) => o === 'Concat')).toHaveLength(1);
  });

  const linearModel = () => {
    const g = createGraph('lin');
    const x = g.input('x', 'f32', [2, 3]);
    const y = nn.linear(x, 'proj', 3, 2);
    g.output('pred', y);
    g.output('loss', op.reduceMean(op.mul(y, y), [0, 1], false));
    return g;
  };

  it('makes trainable parameters inputs and keeps frozen ones as parameters', () => {
    const t = grad(linearModel(), 'loss', ['proj.weight'], { keepOutputs: ['pred'] });
    expect(t.inputNames().sort()).toEqual(['proj.weight', 'x']);
    expect([...t.params.keys()]).toEqual(['proj.bias']);
    expect(t.outputs.map((o) => o.name)).toEqual([LOSS_OUTPUT, 'pred', gradOutputName('proj.weight')]);
  });

  it('computes the textbook gradient of a linear least-squares loss', () => {
    const t = grad(linearModel(), 'loss', ['proj.weight', 'proj.bias']);
    const x = [1, 2, 3, -1, 0.5, 2];
    const w = [0.1, -0.2, 0.3, 0.05, 0.4, -0.1];
    const b = [0.2, -0.3];
    const out = interpret(t, { x: { shape: [2, 3], data: x }, 'proj.weight': { shape: [2, 3], data: w }, 'proj.bias': { shape: [2], data: b } }, memoryWeights({}), { precision: 'f64' });
    // L = mean(y²) over 4 elements → dL/dy = y/2; dW = (dL/dy)ᵀ x, db = Σ_rows dL/dy.
    const y = [0, 1].flatMap((i) => [0, 1].map((o) => b[o] + [0, 1, 2].reduce((s, k) => s + x[i * 3 + k] * w[o * 3 + k], 0)));
    const dy = y.map((v) => v / 2);
    const dW = [0, 1].flatMap((o) => [0, 1, 2].map((k) => dy[o] * x[k] + dy[2 + o] * x[3 + k]));
    const db = [0, 1].map((o) => dy[o] + dy[2 + o]);
    Array.from(out[gradOutputName('proj.weight')].data).forEach((v, i) => expect(v).toBeCloseTo(dW[i], 12));
    Array.from(out[gradOutputName('proj.bias')].data).forEach((v, i) => expect(v).toBeCloseTo(db[i], 12));
  });

  it('gives zero gradient to a parameter the loss never reads, and refuses bad requests', () => {
    const g = linearModel();
    g.param('unused', [4]);
    const t = grad(g, 'loss', ['proj.bias', 'unused']);
    const out = interpret(t, { x: { shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }, 'proj.bias': { shape: [2], data: [0, 0] }, unused: { shape: [4], data: [1, 2, 3, 4] } }, memoryWeights({ 'proj.weight': new Float32Array(6).fill(0.1) }, { 'proj.weight': [2, 3] }));
    expect(Array.from(out[gradOutputName('unused')].data)).toEqual([0, 0, 0, 0]);
    expect(() => grad(linearModel(), 'pred', ['proj.bias'])).toThrow(/must be one float/);
    expect(() => grad(linearModel(), 'nope', ['proj.bias'])).toThrow(/no output "nope"/);
    expect(() => grad(linearModel(), 'loss', ['proj.wieght'])).toThrow(/neither a parameter nor an input/);
  });

  it('prunes forward values the gradients do not need', () => {
    const g = createGraph();
    const x = g.input('x', 'f32', [3]);
    const w = g.param('w', [3]);
    g.output('side', op.exp(op.sin(x)));
    g.output('loss', op.reduceSum(op.mul(x, w), [0], false));
    const t = grad(g, 'loss', ['w']);
    expect(t.nodes.map((n) => n.op)).not.toContain('Sin');
  });
});
