// Whole-block gradients: ResnetBlock2D, a transformer block and a tiny UNet, differentiated by grad()
// with every parameter trainable, checked against central differences on the float64 interpreter
// (random directions through all parameters at once, plus single elements spread over the tensors),
// and ORT's gradients against the interpreter's. A LoRA-style run trains a subset with the frozen
// rest stored as f16 initializers.
import { describe, it, expect } from 'vitest';
import { createGraph, type Graph, type Shape, numel } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import { grad, gradOutputName, LOSS_OUTPUT } from '../graph/autodiff.ts';
import { checkDirectional, checkGradients } from '../graph/gradientCheck.ts';
import { interpret, type Feed } from '../graph/interpret.ts';
import { memoryWeights } from '../graph/weights.ts';
import { emitOnnx } from '../graph/emitOnnx.ts';
import { compile } from '../runtime/session.ts';
import { resnetBlock2D } from '../models/unet/resnetBlock.ts';
import { basicTransformerBlock } from '../models/unet/transformer2d.ts';
import { parseUNetConfig } from '../models/unet/config.ts';
import { buildUNetGraph } from '../models/unet/load.ts';
import { compileTraining } from './trainingGraph.ts';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
}

interface Block {
  graph: Graph;
  values: Record<string, Feed>;
  params: string[];
}

/** Adds an MSE loss against a fixed random target to `g`'s output `name` and draws all values. */
function withLoss(g: Graph, outName: string, seed: number): Block {
  const r = rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(r())) * Math.cos(2 * Math.PI * r());
  const out = g.tensor(g.outputs.find((o) => o.name === outName)!.id);
  const target = op.constant(out, Array.from({ length: numel(out.shape) }, normal), out.shape);
  const diff = op.sub(out, target);
  g.output('loss', op.reduceMean(op.mul(diff, diff), out.shape.map((_, i) => i), false));
  const values: Record<string, Feed> = {};
  for (const id of g.inputs) {
    const v = g.values[id];
    values[v.name!] = { shape: v.shape, data: Float64Array.from({ length: numel(v.shape) }, () => (v.name === 'timestep' ? 500 + 400 * r() : normal())) };
  }
  const params = [...g.params.keys()].sort();
  for (const name of params) {
    const shape: Shape = g.values[g.params.get(name)!].shape;
    const isNormScale = /norm\d?\.weight$/.test(name) && shape.length === 1;
    values[name] = { shape, data: Float64Array.from({ length: numel(shape) }, () => (isNormScale ? 1 : 0) + 0.2 * normal()) };
  }
  return { graph: g, values, params };
}

function resnet(): Block {
  const g = createGraph('resnet');
  const x = g.input('x', 'f32', [1, 4, 5, 4]);
  const temb = g.input('temb', 'f32', [1, 6]);
  g.output('y', resnetBlock2D(x, temb, { outChannels: 8, groups: 2, eps: 1e-5 }));
  return withLoss(g, 'y', 11);
}

function transformerBlock(): Block {
  const g = createGraph('transformer');
  const x = g.input('x', 'f32', [1, 5, 8]);
  const ctx = g.input('context', 'f32', [1, 3, 6]);
  g.output('y', basicTransformerBlock(x, ctx, 2));
  return withLoss(g, 'y', 12);
}

const TINY_UNET = {
  _class_name: 'UNet2DConditionModel',
  block_out_channels: [8, 16],
  down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
  layers_per_block: 1,
  attention_head_dim: 2,
  cross_attention_dim: 6,
  norm_num_groups: 4,
  in_channels: 4,
  out_channels: 4,
};

function tinyUNet(): Block {
  const g = buildUNetGraph(parseUNetConfig(TINY_UNET), { batch: 1, height: 4, width: 4, seqLen: 3 });
  return withLoss(g, 'out_sample', 13);
}

const f32Feeds = (values: Record<string, Feed>) => Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Float32Array.from(v.data as ArrayLike<number>)]));

async function ortAgainstInterpreter(b: Block, train: Graph): Promise<number> {
  const feeds = f32Feeds(b.values);
  const expected = interpret(train, Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, { shape: b.values[k].shape, data: v }])), memoryWeights({}));
  const model = await compile(train, memoryWeights({}), { cacheDir: false, threads: 1 });
  const got = await model.run(feeds);
  await model.release();
  let worst = 0;
  for (const name of [LOSS_OUTPUT, ...b.params.map(gradOutputName)]) {
    const e = expected[name].data;
    const o = got[name].data as Float32Array;
    let err = 0;
    let scale = 0;
    for (let i = 0; i < e.length; i++) {
      err = Math.max(err, Math.abs(o[i] - e[i]));
      scale = Math.max(scale, Math.abs(e[i]));
    }
    worst = Math.max(worst, err / Math.max(1e-3, scale));
  }
  return worst;
}

const report: Record<string, unknown>[] = [];

// [name, block, elements checked per tensor, every n-th tensor checked elementwise (all go into the directional checks)]
describe.each([
  ['ResnetBlock2D', resnet, 3, 1],
  ['BasicTransformerBlock', transformerBlock, 3, 1],
  ['tiny UNet (2 levels, cross-attention)', tinyUNet, 1, 3],
] as const)('%s gradients', (name, make, perTensor, everyNth) => {
  const b = make();
  const train = grad(b.graph, 'loss', b.params);

  it('match central differences along random directions and at single elements (float64)', () => {
    const dirs = [1, 2].map((seed) => checkDirectional(train, b.values, b.params, memoryWeights({}), seed));
    const single = checkGradients(train, b.values, b.params.filter((_, i) => i % everyNth === 0), memoryWeights({}), { perTensor });
    report.push({ block: name, params: b.params.length, directional: Math.max(...dirs.map((d) => d.relError)), elementwise: single.maxError, checked: single.checked });
    for (const d of dirs) {
      expect(Math.abs(d.numeric)).toBeGreaterThan(1e-4);
      expect(d.relError).toBeLessThan(1e-6);
    }
    expect(single.maxGrad).toBeGreaterThan(1e-4);
    expect(single.maxError).toBeLessThan(1e-6);
  });

  it('ORT gives the interpreter\'s gradients', async () => {
    const err = await ortAgainstInterpreter(b, train);
    report.push({ block: name, ortVsInterpreter: err });
    expect(err).toBeLessThan(1e-4);
    if (process.env.INKFLOW_GRAD_REPORT && name.startsWith('tiny')) console.table(report);
  });
});

describe('training a subset', () => {
  it('keeps frozen weights as f16 initializers and still gives the f32 gradients to f16 accuracy', async () => {
    const b = tinyUNet();
    const trainable = b.params.filter((p) => /attn\d\.to_[qkv]\.weight$/.test(p));
    expect(trainable.length).toBeGreaterThan(0);
    const frozenEntries: Record<string, Float32Array> = {};
    const shapes: Record<string, Shape> = {};
    for (const p of b.params) if (!trainable.includes(p)) {
      frozenEntries[p] = Float32Array.from(b.values[p].data as ArrayLike<number>);
      shapes[p] = b.values[p].shape;
    }
    const frozen = memoryWeights(frozenEntries, shapes);
    const report = { f16Params: 0 };
    const t = grad(b.graph, 'loss', trainable);
    expect(t.inputNames()).toEqual(expect.arrayContaining(trainable));
    expect([...t.params.keys()].some((p) => trainable.includes(p))).toBe(false);
    emitOnnx(t, frozen, { weightStorage: 'f16', report });
    expect(report.f16Params).toBeGreaterThan(0);

    const feeds = f32Feeds(Object.fromEntries(Object.entries(b.values).filter(([k]) => !frozenEntries[k] && !trainable.includes(k))));
    const params = f32Feeds(Object.fromEntries(trainable.map((k) => [k, b.values[k]])));
    const run = async (weightStorage: 'f16' | 'f32') => {
      const m = await compileTraining(b.graph, 'loss', trainable, frozen, { cacheDir: false, threads: 1, weightStorage });
      const r = await m.step(params, feeds);
      await m.release();
      return r;
    };
    const full = await run('f32');
    const half = await run('f16');
    expect(Math.abs(half.loss - full.loss) / full.loss).toBeLessThan(1e-2);
    for (const name of trainable) {
      const scale = full.grads[name].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      expect(scale).toBeGreaterThan(0);
      const err = full.grads[name].reduce((m, v, i) => Math.max(m, Math.abs(v - half.grads[name][i])), 0);
      expect(err / scale, name).toBeLessThan(2e-2);
    }
  });
});
