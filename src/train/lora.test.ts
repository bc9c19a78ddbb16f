// LoRA training on a tiny UNet: branches on the attention projections only, an untrained LoRA changes
// nothing, a few AdamW steps lower the denoising loss on a fixed evaluation batch, and the saved kohya
// file (ss_* metadata) merged back by the LoRA loader reproduces the trained LoRA graph's output.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Graph } from '../graph/graph.ts';
import { randomWeights } from '../graph/randomWeights.ts';
import { compile } from '../runtime/session.ts';
import { openSafetensors } from '../weights/safetensors.ts';
import { applyLoras } from '../weights/lora.ts';
import { parseUNetConfig } from '../models/unet/config.ts';
import { buildUNetGraph, ldmLayout } from '../models/unet/load.ts';
import { unetLoraTarget } from '../models/checkpoint/loras.ts';
import { alphasCumprod, makeBetas } from '../sampling/diffusers/betas.ts';
import { RESNET_CONVS, addLoraBranches, initLoraParams, loraShapes, saveKohyaLora } from './lora.ts';
import { diffusionBatch, weightedMse } from './diffusionObjective.ts';
import { compileTraining } from './trainingGraph.ts';
import { runTraining, type TrainLoopConfig } from './trainLoop.ts';
import { createTrainRng } from './trainRng.ts';

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
const SHAPES = { batch: 1, height: 4, width: 4, seqLen: 3 };
const config = parseUNetConfig(TINY_UNET);
const abar = alphasCumprod(makeBetas({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, num_train_timesteps: 1000, trained_betas: null }));

/** The UNet with a weighted-MSE loss on its prediction (inputs target and weights). */
function lossGraph(): Graph {
  const g = buildUNetGraph(config, SHAPES);
  const pred = g.tensor(g.outputs.find((o) => o.name === 'out_sample')!.id);
  g.output('loss', weightedMse(pred, g.input('target', 'f32', pred.shape), g.input('weights', 'f32', [1])));
  return g;
}

const x0 = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i * 0.7) + (i % 16 < 8 ? 0.5 : -0.5));
const context = Float32Array.from({ length: 18 }, (_, i) => Math.cos(i));

describe('LoRA training', () => {
  it('trains attention-projection LoRAs that the kohya loader merges back exactly', async () => {
    const forward = lossGraph();
    const base = randomWeights(forward, { seed: 3, std: 0.1 });
    const rank = 4;
    const alpha = 2;
    const { graph, modules } = addLoraBranches(forward, { rank, alpha });
    // attn1 and attn2 × q, k, v, out in the down, mid and two up transformer blocks.
    expect(modules).toHaveLength(4 * 2 * 4);
    expect(modules.every((m) => /attn[12]\.to_(q|k|v|out\.0)$/.test(m.module))).toBe(true);
    const trainable = modules.flatMap((m) => [m.down, m.up]);
    const model = await compileTraining(graph, 'loss', trainable, base, { cacheDir: false, threads: 1, keepOutputs: ['out_sample'] });

    // Held-out noise and timesteps (a seed the training stream never uses): the mean loss over 8 draws.
    const evalRng = createTrainRng(99);
    const evalSet = Array.from({ length: 8 }, () => diffusionBatch(x0, 1, 4, abar, evalRng, { prediction: 'eps' }));
    const feedsOf = (b: (typeof evalSet)[number]) => ({ sample: b.noisy, timestep: b.timesteps, encoder_hidden_states: context, target: b.target, weights: b.weights });
    const evalLoss = async (params: Record<string, Float32Array>) => {
      let sum = 0;
      for (const b of evalSet) sum += (await model.step(params, feedsOf(b))).loss;
      return sum / evalSet.length;
    };
    const evalBatch = evalSet[0];
    const evalFeeds = feedsOf(evalBatch);
    const initial = initLoraParams(modules, createTrainRng(5));
    const before = await model.step(initial, evalFeeds);
    const lossBefore = await evalLoss(initial);

    // An untrained LoRA (up = 0) leaves the base model's prediction unchanged.
    const plain = await compile(buildUNetGraph(config, SHAPES), base, { cacheDir: false, threads: 1 });
    const basePred = (await plain.run({ sample: evalBatch.noisy, timestep: evalBatch.timesteps, encoder_hidden_states: context })).out_sample.data as Float32Array;
    expect(Array.from(before.outputs.out_sample)).toEqual(Array.from(basePred));
    await plain.release();

    const dir = mkdtempSync(join(tmpdir(), 'inkflow-lora-'));
    try {
      const cfg: TrainLoopConfig = { steps: 60, optimizer: { name: 'adamw', weightDecay: 0 }, lr: 1e-1, schedule: 'constant_with_warmup', warmupSteps: 2, checkpointEvery: 20, seed: 1 };
      const res = await runTraining(dir, cfg, {
        shapes: loraShapes(modules),
        initialParams: () => initial,
        async microStep(params, rng) {
          const b = diffusionBatch(x0, 1, 4, abar, rng, { prediction: 'eps', minSnrGamma: 5 });
          const r = await model.step(params, { sample: b.noisy, timestep: b.timesteps, encoder_hidden_states: context, target: b.target, weights: b.weights });
          return { loss: r.loss, grads: r.grads };
        },
        describe: () => ({ kind: 'lora-test', rank, alpha }),
      });
      const after = await model.step(res.params, evalFeeds);
      const lossAfter = await evalLoss(res.params);
      if (process.env.INKFLOW_GRAD_REPORT) console.log({ lossBefore, lossAfter });
      // Only the attention projections of a random 2-level UNet learn here: a real but modest drop (1.34 → 1.20).
      expect(lossAfter).toBeLessThan(0.95 * lossBefore);

      const file = join(dir, 'character.safetensors');
      await saveKohyaLora(file, modules, res.params, { rank, alpha }, { outputName: 'character', steps: 60, learningRate: 3e-2, scheduler: 'constant_with_warmup', optimizer: 'AdamW', seed: 1, resolution: '32,32' });
      const reader = openSafetensors(file);
      try {
        expect(reader.metadata.ss_network_module).toBe('networks.lora');
        expect(reader.metadata.ss_network_dim).toBe('4');
        expect(reader.metadata.ss_network_alpha).toBe('2');
        expect(reader.has('lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight')).toBe(true);
        expect(reader.info('lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_out_0.alpha').shape).toEqual([]);
        const baseGraph = buildUNetGraph(config, SHAPES);
        const merged = applyLoras(base, [{ reader, strength: 1 }], unetLoraTarget(baseGraph.params.keys(), ldmLayout(config)));
        expect(merged.report.unmatched).toEqual([]);
        expect(merged.report.patched).toHaveLength(modules.length);
        const m = await compile(baseGraph, merged.store, { cacheDir: false, threads: 1 });
        const got = (await m.run({ sample: evalBatch.noisy, timestep: evalBatch.timesteps, encoder_hidden_states: context })).out_sample.data as Float32Array;
        await m.release();
        const want = after.outputs.out_sample;
        const scale = Math.max(...Array.from(want, Math.abs));
        const err = Math.max(...Array.from(want, (v, i) => Math.abs(v - got[i])));
        expect(err / scale).toBeLessThan(1e-4);
        // The LoRA did change the model.
        expect(Math.max(...Array.from(want, (v, i) => Math.abs(v - basePred[i]))) / scale).toBeGreaterThan(1e-2);
      } finally {
        reader.close();
      }
    } finally {
      await model.release();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('LoCon: conv branches (3×3 at the conv rank, 1×1 at the linear rank) merge back through the loader exactly', async () => {
    const forward = lossGraph();
    const base = randomWeights(forward, { seed: 4, std: 0.1 });
    const { graph, modules } = addLoraBranches(forward, { rank: 2, alpha: 1, convTargets: RESNET_CONVS, convRank: 3, convAlpha: 6 });
    const convs = modules.filter((m) => m.kernel);
    // down resnet (conv1, conv2), its downsampler, mid (2 resnets), up (2 resnets with shortcuts) and the upsampler.
    expect(convs.map((m) => m.module)).toContain('down_blocks.0.downsamplers.0.conv');
    expect(convs.map((m) => m.module)).toContain('up_blocks.1.resnets.0.conv_shortcut');
    const shortcut = convs.find((m) => m.module.endsWith('conv_shortcut'))!;
    expect([shortcut.rank, shortcut.alpha, shortcut.kernel]).toEqual([2, 1, [1, 1]]);
    const c3 = convs.find((m) => m.module === 'mid_block.resnets.0.conv1')!;
    expect([c3.rank, c3.alpha, c3.kernel]).toEqual([3, 6, [3, 3]]);
    const trainable = modules.flatMap((m) => [m.down, m.up]);
    const model = await compileTraining(graph, 'loss', trainable, base, { cacheDir: false, threads: 1, keepOutputs: ['out_sample'] });
    const params = initLoraParams(modules, createTrainRng(2));
    // Non-zero up weights stand in for training: every branch now changes the output.
    const rng = createTrainRng(8);
    for (const m of modules) params[m.up] = rng.normals(params[m.up].length).map((v) => 0.05 * v);
    const b = diffusionBatch(x0, 1, 4, abar, createTrainRng(3), { prediction: 'eps' });
    const r = await model.step(params, { sample: b.noisy, timestep: b.timesteps, encoder_hidden_states: context, target: b.target, weights: b.weights });
    expect(Object.keys(r.grads).sort()).toEqual(Object.keys(loraShapes(modules)).sort());
    expect(r.grads[c3.down].some((v) => v !== 0)).toBe(true);
    await model.release();
    const dir = mkdtempSync(join(tmpdir(), 'inkflow-locon-'));
    try {
      const file = join(dir, 'locon.safetensors');
      await saveKohyaLora(file, modules, params, { rank: 2, alpha: 1, convRank: 3, convAlpha: 6 }, { outputName: 'locon', steps: 0, learningRate: 1e-4, scheduler: 'constant', optimizer: 'AdamW', seed: 0 });
      const reader = openSafetensors(file);
      try {
        expect(JSON.parse(reader.metadata.ss_network_args)).toEqual({ conv_dim: '3', conv_alpha: '6' });
        expect(reader.info('lora_unet_mid_block_resnets_0_conv1.lora_down.weight').shape).toEqual([3, 16, 3, 3]);
        expect(reader.info('lora_unet_mid_block_resnets_0_conv1.lora_up.weight').shape).toEqual([16, 3, 1, 1]);
        const baseGraph = buildUNetGraph(config, SHAPES);
        const merged = applyLoras(base, [{ reader, strength: 1 }], unetLoraTarget(baseGraph.params.keys(), ldmLayout(config)));
        expect(merged.report.unmatched).toEqual([]);
        expect(merged.report.patched).toHaveLength(modules.length);
        const m = await compile(baseGraph, merged.store, { cacheDir: false, threads: 1 });
        const got = (await m.run({ sample: b.noisy, timestep: b.timesteps, encoder_hidden_states: context })).out_sample.data as Float32Array;
        const plain = await compile(baseGraph, base, { cacheDir: false, threads: 1 });
        const basePred = (await plain.run({ sample: b.noisy, timestep: b.timesteps, encoder_hidden_states: context })).out_sample.data as Float32Array;
        await m.release();
        await plain.release();
        const want = r.outputs.out_sample;
        const scale = Math.max(...Array.from(want, Math.abs));
        expect(Math.max(...Array.from(want, (v, i) => Math.abs(v - got[i]))) / scale).toBeLessThan(1e-4);
        expect(Math.max(...Array.from(want, (v, i) => Math.abs(v - basePred[i]))) / scale).toBeGreaterThan(1e-2);
      } finally {
        reader.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
