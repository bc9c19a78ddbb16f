// Configs other than the golden ones must build and run unchanged: more levels, per-block head counts,
// linear projections, upcast attention, deeper transformers, non-square and non-divisible latents,
// batch-2 (CFG) execution, ControlNet residuals, T2I-Adapter features (against a graph assembled the way
// diffusers v0.21's forward reads), the SDRO blueprint; full-size configs build with the exact diffusers
// parameter counts.
import { describe, it, expect } from 'vitest';
import { type Graph, type Tensor, createGraph, numel } from '../../graph/graph.ts';
import { memoryWeights, type WeightStore } from '../../graph/weights.ts';
import { interpret } from '../../graph/interpret.ts';
import { compile, type CompiledModel } from '../../runtime/session.ts';
import { parseUNetConfig, type UNetConfig } from './config.ts';
import { buildUNetGraph, type UNetShapes } from './load.ts';
import { adapterFeatureInputShapes, adapterResidualShapes, buildUNet, controlResidualShapes, unetHead, unetStem, unetTimeEmbedding } from './unet.ts';
import { resnetBlock2D } from './resnetBlock.ts';
import { levelTransformerOptions, transformer2D } from './transformer2d.ts';
import { downsample2D } from './downsample.ts';
import { midBlock } from './midBlock.ts';
import { upBlock } from './upBlock.ts';
import * as op from '../../graph/ops.ts';
import { nearestIndices } from './upsample.ts';
import { SD15_CONFIG, SD21_CONFIG, SDXL_CONFIG } from './testConfigs.ts';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) + 0.5) / 2 ** 32;
}

function randn(n: number, r: () => number, scale = 1, offset = 0): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = offset + scale * Math.sqrt(-2 * Math.log(r())) * Math.cos(2 * Math.PI * r());
  return a;
}

/** Parameters ~ N(0, 0.05), norm scales 1 + N(0, 0.05) (the golden convention), keyed by graph name. */
function randomWeights(g: Graph, seed = 7): WeightStore {
  const r = rng(seed);
  const entries: Record<string, Float32Array> = {};
  const shapes: Record<string, number[]> = {};
  for (const [name, id] of [...g.params].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const shape = [...g.values[id].shape];
    const isNormScale = /(norm\d?|norm_out)\.weight$/.test(name) && shape.length === 1;
    entries[name] = randn(numel(shape), r, 0.05, isNormScale ? 1 : 0);
    shapes[name] = shape;
  }
  return memoryWeights(entries, shapes);
}

/** 3 levels, per-block heads, linear projections, upcast, 2 layers per block, deeper mid transformer. */
const VARIED = {
  _class_name: 'UNet2DConditionModel',
  block_out_channels: [32, 64, 64],
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  layers_per_block: 2,
  attention_head_dim: [2, 4, 8],
  transformer_layers_per_block: [1, 2, 2],
  cross_attention_dim: 24,
  use_linear_projection: true,
  upcast_attention: true,
  norm_num_groups: 8,
};

async function compiled(config: UNetConfig, shapes: UNetShapes, opts: { controlNet?: boolean; adapterFeatures?: number } = {}): Promise<{ g: Graph; model: CompiledModel }> {
  const g = buildUNetGraph(config, shapes, opts);
  return { g, model: await compile(g, randomWeights(g), { cacheDir: false }) };
}

function feedsFor(g: Graph, seed: number, timesteps: number[]): Record<string, Float32Array> {
  const r = rng(seed);
  const feeds: Record<string, Float32Array> = {};
  for (const id of g.inputs) {
    const v = g.values[id];
    feeds[v.name!] = v.name === 'timestep' ? Float32Array.from(timesteps) : /residual|adapter_feature/.test(v.name!) ? new Float32Array(numel(v.shape)) : randn(numel(v.shape), r);
  }
  return feeds;
}

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, x) => Math.max(m, Math.abs(x)), 0);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('UNet on configs other than the golden ones', () => {
  const config = parseUNetConfig(VARIED);

  it('runs batch 2 on a non-square latent, deterministically, each sample as if alone (CFG batching)', async () => {
    const { g, model } = await compiled(config, { batch: 2, height: 8, width: 12, seqLen: 5 });
    const feeds = feedsFor(g, 3, [981, 20.5]);
    const a = (await model.run(feeds)).out_sample;
    const b = (await model.run(feeds)).out_sample;
    expect(a.shape).toEqual([2, 4, 8, 12]);
    expect(Array.from(a.data as Float32Array).every(Number.isFinite)).toBe(true);
    expect(maxAbs(a.data as Float32Array)).toBeGreaterThan(0.1);
    expect(Array.from(b.data as Float32Array)).toEqual(Array.from(a.data as Float32Array));
    await model.release();

    const single = await compiled(config, { batch: 1, height: 8, width: 12, seqLen: 5 });
    const half = (x: Float32Array, k: number) => x.subarray((k * x.length) / 2, ((k + 1) * x.length) / 2);
    for (const k of [0, 1]) {
      const f1 = { sample: half(feeds.sample, k), encoder_hidden_states: half(feeds.encoder_hidden_states, k), timestep: feeds.timestep.subarray(k, k + 1) };
      const o = (await single.model.run(f1)).out_sample.data as Float32Array;
      expect(maxDiff(o, half(a.data as Float32Array, k)), `sample ${k}`).toBeLessThan(1e-5);
    }
    await single.model.release();
  });

  it('runs latents not divisible by the downsampling factor (diffusers upsample_size path)', async () => {
    // 6×10 → 3×5 → 2×3 on the way down; the up path resizes 2×3 → 3×5 → 6×10.
    const { g, model } = await compiled(config, { batch: 1, height: 6, width: 10, seqLen: 3 });
    const out = (await model.run(feedsFor(g, 5, [500]))).out_sample;
    expect(out.shape).toEqual([1, 4, 6, 10]);
    expect(Array.from(out.data as Float32Array).every(Number.isFinite)).toBe(true);
    await model.release();
  });

  it('nearest resize to a size picks torch\'s source indices', () => {
    // torch.nn.functional.interpolate(torch.arange(n)[None,None,None].float(), size=(1,m), mode="nearest")
    expect(nearestIndices(4, 7)).toEqual([0, 0, 1, 1, 2, 2, 3]);
    expect(nearestIndices(2, 3)).toEqual([0, 0, 1]);
    expect(nearestIndices(3, 5)).toEqual([0, 0, 1, 1, 2]);
    expect(nearestIndices(4, 8)).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
  });

  it('adds ControlNet residuals: zeros change nothing, a mid residual changes the output', async () => {
    const shapes = { batch: 1, height: 8, width: 8, seqLen: 4 };
    const plain = await compiled(config, shapes);
    const withCn = buildUNetGraph(config, shapes, { controlNet: true });
    const cn = await compile(withCn, randomWeights(plain.g), { cacheDir: false }); // same weights: same param names
    const feeds = feedsFor(withCn, 9, [400]);
    const base = (await plain.model.run({ sample: feeds.sample, timestep: feeds.timestep, encoder_hidden_states: feeds.encoder_hidden_states })).out_sample.data as Float32Array;
    const zero = (await cn.run(feeds)).out_sample.data as Float32Array;
    expect(maxDiff(zero, base)).toBeLessThan(1e-6);
    const rs = controlResidualShapes(config, 1, 8, 8);
    const bumped = (await cn.run({ ...feeds, mid_residual: new Float32Array(numel(rs.mid)).fill(0.5) })).out_sample.data as Float32Array;
    expect(maxDiff(bumped, base)).toBeGreaterThan(1e-3);
    await plain.model.release();
    await cn.release();
  });

  it('SD1.5 ControlNet residual shapes are the 12 + 1 diffusers passes', () => {
    const rs = controlResidualShapes(parseUNetConfig(SD15_CONFIG), 2, 64, 64);
    expect(rs.down).toEqual([
      [2, 320, 64, 64], [2, 320, 64, 64], [2, 320, 64, 64], [2, 320, 32, 32],
      [2, 640, 32, 32], [2, 640, 32, 32], [2, 640, 16, 16],
      [2, 1280, 16, 16], [2, 1280, 16, 16], [2, 1280, 8, 8],
      [2, 1280, 8, 8], [2, 1280, 8, 8],
    ]);
    expect(rs.mid).toEqual([2, 1280, 8, 8]);
  });

  it('SDRO: the blueprint must be 2^stages × the latent', async () => {
    const sdro = parseUNetConfig({ ...VARIED, _class_name: 'UNet2DDobuleConditionModel', conditioning_channels: 3, conditioning_embedding_out_channels: [8, 16] });
    const g = buildUNetGraph(sdro, { batch: 1, height: 4, width: 6, seqLen: 2 });
    expect(g.values[g.inputs[g.inputNames().indexOf('blueprint')]].shape).toEqual([1, 3, 8, 12]);
    const model = await compile(g, randomWeights(g), { cacheDir: false });
    const out = (await model.run(feedsFor(g, 1, [10]))).out_sample;
    expect(out.shape).toEqual([1, 4, 4, 6]);
    await model.release();

    const g2 = createGraph();
    const inputs = {
      sample: g2.input('sample', 'f32', [1, 4, 4, 6]),
      timestep: g2.input('timestep', 'f32', [1]),
      encoderHiddenStates: g2.input('ehs', 'f32', [1, 2, 24]),
    };
    expect(() => buildUNet(g2, sdro, { ...inputs, blueprint: g2.input('blueprint', 'f32', [1, 3, 4, 6]) })).toThrow(/the blueprint must be 2× the latent size/);
    expect(() => buildUNet(createGraph(), sdro, inputs)).toThrow(/belongs to another graph/);
    const g3 = createGraph();
    expect(() => buildUNet(g3, sdro, { sample: g3.input('s', 'f32', [1, 4, 4, 6]), timestep: g3.input('t', 'f32', [1]), encoderHiddenStates: g3.input('e', 'f32', [1, 2, 24]) })).toThrow(/needs a blueprint input/);
  });

  it('builds full-size graphs with the exact diffusers parameter counts (not run)', () => {
    const count = (c: object) => {
      const g = buildUNetGraph(parseUNetConfig(c), { batch: 2, height: 64, width: 64, seqLen: 77 });
      let n = 0;
      for (const id of g.params.values()) n += numel(g.values[id].shape);
      return [n, g.params.size];
    };
    expect(count(SD15_CONFIG)).toEqual([859_520_964, 686]);
    expect(count(SD21_CONFIG)).toEqual([865_910_724, 686]);
    expect(count(SDXL_CONFIG)).toEqual([2_567_463_684, 1680]);
  });
});

/**
 * The UNet with T2I-Adapter features, written the way diffusers v0.21 UNet2DConditionModel.forward and its
 * blocks read (a list popped from the front; CrossAttnDownBlock2D's `additional_residuals`; DownBlock2D's
 * in-place `sample += …`; the T2I-Adapter-XL mid rule), from the same building blocks. The two knobs build
 * the plausible misreadings, so the comparison can be seen to fail.
 */
function diffusersAdapterUNet(config: UNetConfig, shapes: UNetShapes, count: number, wrong: { firstPair?: boolean; skipWithoutFeature?: boolean } = {}): Graph {
  const { batch: b, height: h, width: w, seqLen } = shapes;
  const g = createGraph('reference');
  const sample = g.input('sample', 'f32', [b, config.inChannels, h, w]);
  const timestep = g.input('timestep', 'f32', [b]);
  const context = g.input('encoder_hidden_states', 'f32', [b, seqLen, config.crossAttentionDim]);
  const residuals = adapterFeatureInputShapes(config, b, h, w, count).map((s, k) => g.input(`adapter_feature_${k}`, 'f32', s));
  const emb = unetTimeEmbedding(config, timestep).emb;
  let x = unetStem(config, sample).out;
  const resSamples: Tensor[] = [x];
  config.down.forEach((level, i) => g.within('down_blocks', () => g.within(i, () => {
    const block = { eps: config.normEps, groups: config.normNumGroups, outChannels: level.outChannels };
    const additional = level.type === 'CrossAttnDownBlock2D' && residuals.length ? residuals.shift() : undefined;
    const outputStates: Tensor[] = [];
    let hs = x;
    for (let j = 0; j < level.layers; j++) {
      hs = g.within('resnets', () => g.within(j, () => resnetBlock2D(hs, emb, block)));
      if (level.attention) hs = g.within('attentions', () => g.within(j, () => transformer2D(hs, context, levelTransformerOptions(level, config))));
      if (additional && j === (wrong.firstPair ? 0 : level.layers - 1)) hs = op.add(hs, additional);
      outputStates.push(hs);
    }
    if (level.downsample) {
      hs = g.within('downsamplers', () => g.within(0, () => downsample2D(hs, level.outChannels, config.downsamplePadding)));
      outputStates.push(hs);
    }
    if (level.type === 'DownBlock2D' && residuals.length) {
      hs = op.add(hs, residuals.shift()!);
      if (!wrong.skipWithoutFeature) outputStates[outputStates.length - 1] = hs; // `+=` changed the tensor the tuple holds
    }
    x = hs;
    resSamples.push(...outputStates);
  })));
  x = g.within('mid_block', () => midBlock(x, emb, context, config));
  if (residuals.length && residuals[0].shape.join() === x.shape.join()) x = op.add(x, residuals.shift()!);
  let skips = resSamples;
  config.up.forEach((level, i) => {
    const mine = skips.slice(skips.length - level.layers);
    skips = skips.slice(0, skips.length - level.layers);
    const size = level.upsample ? ([skips[skips.length - 1].shape[2], skips[skips.length - 1].shape[3]] as const) : undefined;
    const input = x;
    x = g.within('up_blocks', () => g.within(i, () => upBlock(input, mine, emb, context, level, config, size)));
  });
  g.output('out_sample', unetHead(config, x).out);
  return g;
}

describe('UNet with T2I-Adapter features', () => {
  // VARIED: two layers per block (the feature goes after the LAST pair), a DownBlock2D without downsampler.
  // XL_LIKE: a DownBlock2D with a downsampler first (feature after it, in its skip too) and a mid feature.
  const XL_LIKE = { ...VARIED, down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'], up_block_types: ['CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'], block_out_channels: [16, 32, 64], attention_head_dim: [2, 4, 8] };
  const cases = [
    { name: 'SD-like levels (CrossAttn, CrossAttn, Down)', raw: VARIED, count: 3, shapes: { batch: 2, height: 8, width: 12, seqLen: 3 } },
    { name: 'XL-like levels (Down, CrossAttn, CrossAttn) + mid feature', raw: XL_LIKE, count: 4, shapes: { batch: 1, height: 8, width: 8, seqLen: 3 } },
  ];

  it('feature shapes: level size (CrossAttn) or after the downsampler (Down), then the mid output', () => {
    const sd = parseUNetConfig(SD15_CONFIG);
    expect(adapterResidualShapes(sd, 2, 64, 64)).toEqual({ down: [[2, 320, 64, 64], [2, 640, 32, 32], [2, 1280, 16, 16], [2, 1280, 8, 8]], mid: [2, 1280, 8, 8] });
    // SDXL at 1024²: what full_adapter_xl gives (1/16, 1/16, 1/32 of the image, then 1/32 for the mid).
    const xl = parseUNetConfig(SDXL_CONFIG);
    expect(adapterFeatureInputShapes(xl, 1, 128, 128, 4)).toEqual([[1, 320, 64, 64], [1, 640, 64, 64], [1, 1280, 32, 32], [1, 1280, 32, 32]]);
    expect(() => adapterFeatureInputShapes(sd, 1, 64, 64, 6)).toThrow(/0 to 5 T2I-Adapter features/);
    const g = createGraph();
    const inputs = { sample: g.input('s', 'f32', [1, 4, 8, 8]), timestep: g.input('t', 'f32', [1]), encoderHiddenStates: g.input('e', 'f32', [1, 2, 24]) };
    expect(() => buildUNet(g, parseUNetConfig(VARIED), { ...inputs, adapterFeatures: [g.input('f', 'f32', [1, 32, 4, 4])] })).toThrow(/T2I-Adapter feature 0 must be \[1,32,8,8\], got \[1,32,4,4\]/);
  });

  for (const c of cases) {
    it(`${c.name}: matches the diffusers-order reference; zeros change nothing`, async () => {
      const config = parseUNetConfig(c.raw);
      const ours = buildUNetGraph(config, c.shapes, { adapterFeatures: c.count });
      expect(ours.inputNames().filter((n) => n.startsWith('adapter_feature_'))).toHaveLength(c.count);
      const weights = randomWeights(ours);
      const opts = { cacheDir: false as const };
      const model = await compile(ours, weights, opts);
      const ref = await compile(diffusersAdapterUNet(config, c.shapes, c.count), weights, opts);
      const plain = await compile(buildUNetGraph(config, c.shapes), weights, opts);
      const zeroFeeds = feedsFor(ours, 11, c.shapes.batch === 2 ? [700, 3] : [700]);
      const r = rng(12);
      const feeds = { ...zeroFeeds };
      for (const [k, s] of adapterFeatureInputShapes(config, c.shapes.batch, c.shapes.height, c.shapes.width, c.count).entries()) feeds[`adapter_feature_${k}`] = randn(numel(s), r, 0.5);
      const { sample, timestep, encoder_hidden_states } = zeroFeeds;
      const base = (await plain.run({ sample, timestep, encoder_hidden_states })).out_sample.data as Float32Array;
      const zero = (await model.run(zeroFeeds)).out_sample.data as Float32Array;
      // Zero features are exactly the no-adapter UNet in the reference interpreter; ORT's optimiser fuses the
      // extra Adds with their neighbours, which reorders float sums (measured up to 1.4e-6 at outputs ~3).
      const zeroErr = maxDiff(zero, base);
      expect(zeroErr).toBeLessThan(1e-5);
      const exact = (gr: Graph, f: Record<string, Float32Array>) => interpret(gr, Object.fromEntries(gr.inputNames().map((n) => [n, { shape: [...gr.values[gr.inputs[gr.inputNames().indexOf(n)]].shape], data: f[n] }])), weights).out_sample.data;
      expect(Array.from(exact(ours, zeroFeeds))).toEqual(Array.from(exact(buildUNetGraph(config, c.shapes), zeroFeeds)));
      const a = (await model.run(feeds)).out_sample.data as Float32Array;
      const b = (await ref.run(feeds)).out_sample.data as Float32Array;
      const err = maxDiff(a, b);
      console.log(`${c.name}: adapter UNet vs diffusers-order reference max|Δ| ${err.toExponential(2)}, zero features vs none ${zeroErr.toExponential(2)}, effect of the features ${maxDiff(a, base).toFixed(3)}`);
      expect(err).toBeLessThan(1e-5);
      expect(maxDiff(a, base)).toBeGreaterThan(1e-2);
      // The reference tells the placements apart: after the first pair, or a skip without the feature, differ.
      const misread = c.raw === VARIED ? { firstPair: true } : { skipWithoutFeature: true };
      const wrong = await compile(diffusersAdapterUNet(config, c.shapes, c.count, misread), weights, opts);
      expect(maxDiff((await wrong.run(feeds)).out_sample.data as Float32Array, a)).toBeGreaterThan(1e-3);
      for (const m of [model, ref, plain, wrong]) await m.release();
    });
  }
});
