// ColorizeDiffusion sampling end to end on the tiny random model: dual CFG formula and branch wiring,
// shapes, seeded determinism, mode differences, zero-LoRA agreement, input errors.
import { describe, it, expect } from 'vitest';
import { colorizeDiffusionModel, type ColorizeDiffusionModel } from '../../models/splitAttention/colorizeModel.ts';
import { hintShapes } from '../../models/splitAttention/splitUNet.ts';
import { TINY_LORA, tinyColorizeWeights, type TinyWeights } from '../../models/splitAttention/tinyColorizeModel.ts';
import type { ColorizeMode } from '../../models/splitAttention/modes.ts';
import { createTorchGenerator } from '../../sampling/torchRandom.ts';
import {
  backgroundReference, cfg, colorizeDiffusionLatents, colorizeDiffusionScheduler, combineGuidance, dualCfg, guidanceBranches,
  sketchMaskToLatent, COLORIZE_DIFFUSION_DEFAULTS, type ColorizeDiffusionInputs,
} from './colorizeDiffusion.ts';

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296 - 0.5;
  };
}
const maxAbs = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

const H = 64; // sketch 64×96 → latent 8×12 (non-square)
const W = 96;

function inputs(seed = 1, opts: { sameTokens?: boolean } = {}): ColorizeDiffusionInputs {
  const r = rng(seed);
  const fill = (n: number) => Float32Array.from({ length: n }, () => r() * 2);
  const ref = { shape: [1, 6, 24], data: fill(6 * 24) };
  // A figure in the left half of the sketch; the mask comes from image size as the demo makes it.
  const mask = Float32Array.from({ length: H * W }, (_, i) => ((i % W) < W / 2 ? 1 : 0));
  return {
    sketch: { shape: [1, 3, H, W], data: Float32Array.from({ length: 3 * H * W }, (_, i) => (i % 7 === 0 ? 1 : -1)) },
    referenceTokens: ref,
    backgroundTokens: opts.sameTokens ? undefined : { shape: [1, 4, 24], data: fill(4 * 24) },
    sketchMask: sketchMaskToLatent({ shape: [1, 1, H, W], data: mask }),
  };
}

const weights = tinyColorizeWeights();
const models = new Map<string, ColorizeDiffusionModel>();
function model(mode: ColorizeMode, w: TinyWeights = weights, tag = 'rand'): ColorizeDiffusionModel {
  const key = `${mode}:${tag}`;
  if (!models.has(key)) models.set(key, colorizeDiffusionModel(w.config, w, { mode }, { cacheDir: false, threads: 1, lora: TINY_LORA }));
  return models.get(key)!;
}

describe('dual CFG', () => {
  it('is (u0 + s_r(c − u0) + u1 + s_s(c − u1)) / 2', () => {
    const c = Float32Array.from([1, 2, -3]);
    const u0 = Float32Array.from([0.5, 0, 1]);
    const u1 = Float32Array.from([2, 1, -1]);
    const got = dualCfg(c, u0, u1, 4, 1.5);
    const want = [0, 1, 2].map((i) => (u0[i] + 4 * (c[i] - u0[i]) + u1[i] + 1.5 * (c[i] - u1[i])) / 2);
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));
    // s_r = s_s = 1 gives the conditional prediction back
    expect(Array.from(dualCfg(c, u0, u1, 1, 1))).toEqual(Array.from(c));
    expect(Array.from(cfg(c, u0, 4))).toEqual([0.5 + 4 * 0.5, 8, 1 - 16]);
    expect(() => dualCfg(c, u0, new Float32Array(2), 4, 1)).toThrow(/differ in size/);
  });

  it('chooses branches as the original does: a scale counts only above 1', () => {
    expect(guidanceBranches(4, 1)).toEqual(['cond', 'zeroReference']);
    expect(guidanceBranches(1, 2)).toEqual(['cond', 'blankSketch']);
    expect(guidanceBranches(4, 1.5)).toEqual(['cond', 'zeroReference', 'blankSketch']);
    expect(guidanceBranches(1, 1)).toEqual(['cond']);
    const p = Float32Array.from([1, 2, 0, 0, 5, 5]);
    expect(Array.from(combineGuidance(p, ['cond', 'zeroReference', 'blankSketch'], 2, 3))).toEqual(Array.from(dualCfg(p.subarray(0, 2), p.subarray(2, 4), p.subarray(4, 6), 2, 3)));
    expect(Array.from(combineGuidance(p.subarray(0, 4), ['cond', 'blankSketch'], 9, 3))).toEqual(Array.from(cfg(p.subarray(0, 2), p.subarray(2, 4), 3)));
  });

  it('a batched step equals three separate UNet calls combined by dualCfg (zero reference, blank sketch wired right)', async () => {
    const m = model('fig2fig');
    const inp = inputs(3);
    const seed = 5;
    const got = await colorizeDiffusionLatents(m, inp, { steps: 1, seed, sketchGuidance: 1.5 });
    expect(got.branches).toEqual(['cond', 'zeroReference', 'blankSketch']);
    // by hand
    const sk = new Float32Array(2 * inp.sketch.data.length);
    sk.set(inp.sketch.data);
    sk.fill(-1, inp.sketch.data.length);
    const hints = await m.encodeSketch(2, 8, 12, sk);
    const hs = hintShapes(m.config, 1, 8, 12).map((s) => s.reduce((a, b) => a * b, 1));
    const sched = colorizeDiffusionScheduler();
    sched.setTimesteps(1);
    const t = sched.timesteps[0];
    const x = createTorchGenerator(seed).randn([1, 4, 8, 12]);
    const shapes = { batch: 1, height: 8, width: 12, fgTokens: 6, bgTokens: 4 };
    const one = (zeroRef: boolean, blank: boolean) => m.unet(shapes, {
      sample: x, timestep: Float32Array.of(t),
      fg_context: zeroRef ? new Float32Array(inp.referenceTokens.data.length) : inp.referenceTokens.data,
      bg_context: zeroRef ? new Float32Array(inp.backgroundTokens!.data.length) : inp.backgroundTokens!.data,
      sketch_mask: inp.sketchMask!.data,
      ...Object.fromEntries(hints.map((hk, k) => [`hint_${k}`, blank ? hk.slice(hs[k]) : hk.slice(0, hs[k])])),
    });
    const pred = dualCfg(await one(false, false), await one(true, false), await one(false, true), COLORIZE_DIFFUSION_DEFAULTS.referenceGuidance, 1.5);
    const want = sched.step(pred, t, x).prevSample;
    const err = maxAbs(got.latents.data, want);
    console.log(`[colorize-diffusion] batch-3 step vs three batch-1 calls max abs diff ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-5);
  });
});

describe('colorizeDiffusionLatents (tiny random model, DPM++ 20 steps)', () => {
  it('defaults: 20 leading-spaced steps, reference-only CFG, latent shape, same seed → same latents', async () => {
    const m = model('fig2fig');
    const progress: number[] = [];
    const a = await colorizeDiffusionLatents(m, inputs(), { seed: 42, onProgress: (p) => progress.push(p.step) });
    const b = await colorizeDiffusionLatents(m, inputs(), { seed: 42 });
    const c = await colorizeDiffusionLatents(m, inputs(), { seed: 43 });
    expect(a.latents.shape).toEqual([1, 4, 8, 12]);
    expect(a.timesteps).toHaveLength(20);
    // DPM-Solver's leading spacing: (1000 // 21)·k, reversed, last dropped, + steps_offset 1
    expect(a.timesteps.slice(0, 3)).toEqual([941, 894, 847]);
    expect(a.timesteps[19]).toBe(48);
    expect(a.branches).toEqual(['cond', 'zeroReference']);
    expect(progress).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(a.latents.data.every(Number.isFinite)).toBe(true);
    expect(Array.from(b.latents.data)).toEqual(Array.from(a.latents.data));
    expect(maxAbs(a.latents.data, c.latents.data)).toBeGreaterThan(1e-2);
  });

  it('vanilla ≠ bg2fig ≠ fig2fig when the LoRA weights are non-zero (same tokens, so only LoRA differs)', async () => {
    const run = async (mode: ColorizeMode) => (await colorizeDiffusionLatents(model(mode), inputs(1, { sameTokens: true }), { seed: 7, steps: 8, sketchGuidance: 1.5 })).latents.data;
    const [v, b2f, f2f] = [await run('vanilla'), await run('bg2fig'), await run('fig2fig')];
    console.log(`[colorize-diffusion] non-zero LoRA: |vanilla−fig2fig| ${maxAbs(v, f2f).toExponential(2)}, |bg2fig−fig2fig| ${maxAbs(b2f, f2f).toExponential(2)}`);
    expect(maxAbs(v, f2f)).toBeGreaterThan(1e-2);
    expect(maxAbs(v, b2f)).toBeGreaterThan(1e-2);
    expect(maxAbs(b2f, f2f)).toBeGreaterThan(1e-2);
  });

  it('all modes agree when the LoRA weights are zero and background tokens default to the reference', async () => {
    const zero = tinyColorizeWeights({ loraStd: 0 });
    const run = async (mode: ColorizeMode) => (await colorizeDiffusionLatents(model(mode, zero, 'zero'), inputs(1, { sameTokens: true }), { seed: 7, steps: 8, sketchGuidance: 1.5 })).latents.data;
    const [v, b2f, f2f] = [await run('vanilla'), await run('bg2fig'), await run('fig2fig')];
    const err = Math.max(maxAbs(v, b2f), maxAbs(v, f2f));
    console.log(`[colorize-diffusion] zero LoRA: max |mode difference| ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-5);
  });

  it('bad input gives clear errors', async () => {
    const m = model('fig2fig');
    const ok = inputs();
    await expect(colorizeDiffusionLatents(m, { ...ok, sketchMask: undefined })).rejects.toThrow(/sketchMask \(latent size\) is required \(expected \[1,1,8,12\]\)/);
    await expect(colorizeDiffusionLatents(m, { ...ok, sketch: { shape: [1, 3, 60, 96], data: new Float32Array(3 * 60 * 96) } })).rejects.toThrow(/multiples of 16/);
    await expect(colorizeDiffusionLatents(m, { ...ok, referenceTokens: { shape: [1, 6, 16], data: new Float32Array(96) } })).rejects.toThrow(/referenceTokens must be \[1,6,24\]/);
    await expect(colorizeDiffusionLatents(m, ok, { steps: 0 })).rejects.toThrow(/steps must be an integer/);
    await expect(colorizeDiffusionLatents(m, ok, { referenceGuidance: Number.NaN })).rejects.toThrow(/referenceGuidance must be a finite number/);
    const ac = new AbortController();
    ac.abort();
    await expect(colorizeDiffusionLatents(m, ok, { signal: ac.signal })).rejects.toThrow();
    // Vanilla needs neither mask nor background tokens.
    const v = await colorizeDiffusionLatents(model('vanilla'), { sketch: ok.sketch, referenceTokens: ok.referenceTokens }, { steps: 2, seed: 1 });
    expect(v.latents.shape).toEqual([1, 4, 8, 12]);
  });
});

describe('mask helpers', () => {
  it('background reference keeps pixels where the reference mask < ts_r and whitens the rest', () => {
    const ref = { shape: [1, 3, 1, 2], data: Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]) };
    const out = backgroundReference(ref, { shape: [1, 1, 1, 2], data: Float32Array.from([0.2, 0.5]) });
    expect(Array.from(out.data)).toEqual([Math.fround(0.1), 1, Math.fround(0.3), 1, Math.fround(0.5), 1]); // 0.5 is not < 0.5
    expect(() => backgroundReference(ref, { shape: [1, 1, 2, 2], data: new Float32Array(4) })).toThrow(/reference mask must be \[1,1,1,2\]/);
  });
  it('sketch mask to latent size is torch bicubic ×1/8: a constant stays constant, edges overshoot', () => {
    const m = sketchMaskToLatent({ shape: [1, 1, 16, 16], data: new Float32Array(256).fill(0.7) });
    expect(m.shape).toEqual([1, 1, 2, 2]);
    m.data.forEach((v) => expect(v).toBeCloseTo(0.7, 6));
    expect(() => sketchMaskToLatent({ shape: [1, 1, 12, 16], data: new Float32Array(192) })).toThrow(/multiples of 8/);
  });
});
