// Step caching's two UNet graphs (buildUNet deepCache): the 'produce' graph is the plain UNet plus one
// output, and the shallow 'consume' graph fed the features produced at the same inputs reproduces the
// full UNet's output — the split drops no computation the shallow path needs. Also the SDRO blueprint
// variant, and the configs the split cannot serve.
import { describe, it, expect } from 'vitest';
import type { Graph } from '../../graph/graph.ts';
import { randomWeights } from '../../graph/randomWeights.ts';
import { graphHash } from '../../graph/hash.ts';
import { compile } from '../../runtime/session.ts';
import { parseUNetConfig } from './config.ts';
import { buildUNetGraph } from './load.ts';
import { deepFeatureShape } from './unet.ts';

const TINY = {
  _class_name: 'UNet2DConditionModel',
  block_out_channels: [32, 64, 64],
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  layers_per_block: 2,
  attention_head_dim: 8,
  cross_attention_dim: 24,
  norm_num_groups: 8,
  in_channels: 4,
  out_channels: 4,
};

const signal = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.61 + seed) + 0.3 * Math.cos(i * 0.07 * seed));

async function run(g: Graph, feeds: Record<string, Float32Array>, weightsOf: Graph): Promise<Record<string, Float32Array>> {
  const m = await compile(g, randomWeights(weightsOf), { cacheDir: false });
  const out = await m.run(feeds);
  await m.release();
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}

describe('UNet step caching graphs', () => {
  const SDRO = { ...TINY, _class_name: 'UNet2DDobuleConditionModel', conditioning_channels: 3, conditioning_embedding_out_channels: [8, 8, 16, 16] };
  for (const [name, raw, blueprint, split] of [['plain UNet', TINY, false, 0], ['SDRO blueprint UNet', SDRO, true, 0], ['SDRO, state after 1 layer of the last up block', SDRO, true, 1], ['plain UNet, state after 2 layers', TINY, false, 2]] as const) {
    it(`${name}: the shallow graph on the produced features gives the full output`, async () => {
      const config = parseUNetConfig(raw);
      const shape = { batch: 2, height: 12, width: 10, seqLen: 5 };
      const plain = buildUNetGraph(config, shape);
      const produce = buildUNetGraph(config, shape, { deepCache: 'produce', cachedUpLayers: split });
      const consume = buildUNetGraph(config, shape, { deepCache: 'consume', cachedUpLayers: split });
      expect(produce.params.size).toBe(plain.params.size);
      expect(consume.params.size).toBeLessThan(plain.params.size / 2);
      // Each layer the cached state holds is one resnet + transformer fewer in the shallow graph, and the
      // first down level's layers go as their skips stop being needed (none left after 2 of 3 layers).
      const layerParams = (prefix: string) => [...consume.params.keys()].filter((k) => k.startsWith(prefix)).length;
      const perLayer = [...plain.params.keys()].filter((k) => k.startsWith('up_blocks.2.resnets.0.') || k.startsWith('up_blocks.2.attentions.0.')).length;
      expect(layerParams('up_blocks.2.')).toBe((3 - split) * perLayer);
      expect(layerParams('down_blocks.0.') > 0).toBe(split < 2);
      expect(graphHash(buildUNetGraph(config, shape, {}))).toBe(graphHash(plain));
      const feeds: Record<string, Float32Array> = {
        sample: signal(2 * 4 * 12 * 10, 1),
        timestep: Float32Array.of(801, 17),
        encoder_hidden_states: signal(2 * 5 * 24, 2),
      };
      if (blueprint) feeds.blueprint = signal(2 * 3 * 96 * 80, 3).map((v) => (v > 0.5 ? 1 : 0));
      const ref = (await run(plain, feeds, plain)).out_sample;
      const full = await run(produce, feeds, plain);
      expect(full.out_sample).toEqual(ref);
      expect(full.deep_features.length).toBe(deepFeatureShape(config, 2, 12, 10, split).reduce((a, b) => a * b, 1));
      // The shallow SDRO graph takes the blueprint embedding from the cached state, not the blueprint.
      const { blueprint: bp, ...shallowFeeds } = feeds;
      expect(consume.inputs.map((id) => consume.values[id].name)).toEqual(['sample', 'timestep', 'encoder_hidden_states', 'deep_features']);
      const shallow = (await run(consume, { ...shallowFeeds, deep_features: full.deep_features }, plain)).out_sample;
      let worst = 0;
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(shallow[i] - ref[i]));
      expect(worst).toBeLessThan(1e-5);
      // Features from another step change the result: the shallow graph really reads them.
      const stale = (await run(consume, { ...shallowFeeds, deep_features: full.deep_features.map((v) => v * 0.5) }, plain)).out_sample;
      expect(stale).not.toEqual(ref);
      if (bp) {
        // …and the blueprint embedding is really read from it: another blueprint's state changes the output.
        const other = (await run(produce, { ...feeds, blueprint: bp.map((v) => 1 - v) }, plain)).deep_features;
        const e = config.blockOutChannels[0] * 12 * 10;
        const mixed = full.deep_features.slice();
        for (let n = 0; n < 2; n++) { const per = mixed.length / 2; mixed.set(other.subarray(n * per + per - e, (n + 1) * per), n * per + per - e); }
        expect((await run(consume, { ...shallowFeeds, deep_features: mixed }, plain)).out_sample).not.toEqual(shallow);
      }
    });
  }

  it('refuses ControlNet residuals; one layer per block still splits', () => {
    const config = parseUNetConfig(TINY);
    const shape = { batch: 1, height: 8, width: 8, seqLen: 5 };
    expect(() => buildUNetGraph(config, shape, { deepCache: 'consume', controlNet: true })).toThrow(/ControlNet/);
    const odd = parseUNetConfig({ ...TINY, layers_per_block: 1, up_block_types: TINY.up_block_types });
    expect(deepFeatureShape(odd, 1, 8, 8)).toEqual([1, 64, 8, 8]);
    expect(deepFeatureShape(odd, 1, 8, 8, 1)).toEqual([1, 32, 8, 8]);
    expect(() => buildUNetGraph(odd, shape, { deepCache: 'consume', cachedUpLayers: 2 })).toThrow(/0 to 1 of the last up block's 2 layers, got 2/);
    expect(() => buildUNetGraph(config, shape, { cachedUpLayers: 1 })).toThrow(/needs deepCache/);
  });
});
