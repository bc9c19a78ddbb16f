// ColorizeDiffusion generate() on a tiny random single file: dual CFG formula and branch wiring, contexts per
// mode, seeded noise, the final step, input errors. (The original's own outputs are checked by the golden
// handler test/golden/handlers/colorizeDiffusion.ts.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { TINY_COLORIZE_CONFIG, writeTinyColorizeCheckpoint } from '../../models/splitAttention/tinyColorizeCheckpoint.ts';
import type { ColorizeMode } from '../../models/splitAttention/modes.ts';
import { createTorchGenerator } from '../../sampling/torchRandom.ts';
import { loadColorizeDiffusion, type ColorizeDiffusionCheckpoint } from './colorizeDiffusionCheckpoint.ts';
import {
  backgroundReference, cfg, colorizeDiffusionGenerate, colorizeDiffusionScheduler, colorizeUNetBatch, combineGuidance, dualCfg, guidanceBranches,
  prepareColorizeConditions, sketchMaskToLatent, COLORIZE_DIFFUSION_DEFAULTS, COLORIZE_DIFFUSION_SCHEDULER, type ColorizeConditionInputs,
} from './colorizeDiffusion.ts';

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296 - 0.5;
  };
}
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

const H = 64; // sketch 64×96 → latent 8×12 (non-square)
const W = 96;

function inputs(seed = 1): ColorizeConditionInputs {
  const r = rng(seed);
  // A figure in the left half of the sketch; the mask comes from image size as the demo makes it.
  const mask = Float32Array.from({ length: H * W }, (_, i) => ((i % W) < W / 2 ? 1 : 0));
  return {
    sketch: { shape: [1, 3, H, W], data: Float32Array.from({ length: 3 * H * W }, (_, i) => (i % 7 === 0 ? 1 : -1)) },
    reference: { shape: [1, 3, 40, 48], data: Float32Array.from({ length: 3 * 40 * 48 }, () => r() * 2) },
    sketchMask: sketchMaskToLatent({ shape: [1, 1, H, W], data: mask }),
    referenceMask: { shape: [1, 1, 40, 48], data: Float32Array.from({ length: 40 * 48 }, (_, i) => ((i % 48) < 20 ? 1 : 0)) },
  };
}

const tmp = mkdtempSync(join(tmpdir(), 'inkflow-cdg-'));
let cp: ColorizeDiffusionCheckpoint;
beforeAll(async () => {
  const file = join(tmp, 'switch-tiny.safetensors');
  await writeTinyColorizeCheckpoint(file);
  cp = await loadColorizeDiffusion(file, { unetConfig: TINY_COLORIZE_CONFIG, cacheDir: false, threads: 1 });
});
afterAll(async () => {
  await cp?.release();
  rmSync(tmp, { recursive: true, force: true });
});

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

  it('a batched step equals separate UNet calls combined by dualCfg (zero reference, blank sketch wired right)', async () => {
    const inp = inputs(3);
    const seed = 5;
    const got = await colorizeDiffusionGenerate(cp, inp, { mode: 'fig2fig', steps: 1, seed, sketchGuidance: 1.5, decode: false });
    expect(got.branches).toEqual(['cond', 'zeroReference', 'blankSketch']);
    const cond = got.conditions;
    expect(cond.context.shape).toEqual([1, 2 * (256 + 8), 24]); // fig2fig: [e + th_s, T(bg)] twice
    const sched = colorizeDiffusionScheduler({ prediction_type: cp.prediction });
    sched.setTimesteps(1);
    const t = sched.timesteps[0];
    // The noise comes after a discarded reference-shaped draw.
    const gen = createTorchGenerator(seed);
    gen.randn(inp.reference.shape);
    const x = gen.randn([1, 4, 8, 12]);
    const model = cp.model({ mode: 'fig2fig' });
    const one = async (br: 'cond' | 'zeroReference' | 'blankSketch') => (await colorizeUNetBatch(model, cond, [br], x, t)).out;
    const pred = dualCfg(await one('cond'), await one('zeroReference'), await one('blankSketch'), COLORIZE_DIFFUSION_DEFAULTS.referenceGuidance, 1.5);
    const want = sched.step(pred, t, x).prevSample;
    const err = maxAbs(got.latents.data, want);
    console.log(`[colorize-diffusion] batch-3 step vs three batch-1 calls max abs diff ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-5);
  });
});

describe('colorizeDiffusionGenerate (tiny random checkpoint, DPM++)', () => {
  it('defaults: 20 leading-spaced steps, reference-only CFG, latent shape, same seed → same latents', async () => {
    const progress: number[] = [];
    const a = await colorizeDiffusionGenerate(cp, inputs(), { mode: 'fig2fig', seed: 42, decode: false, onProgress: (p) => progress.push(p.step) });
    const b = await colorizeDiffusionGenerate(cp, inputs(), { mode: 'fig2fig', seed: 42, decode: false });
    const c = await colorizeDiffusionGenerate(cp, inputs(), { mode: 'fig2fig', seed: 43, decode: false });
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
  }, 60_000);

  it('contexts per mode: vanilla e, fg_enhance [e, e], bg_enhance [e + th, T], fig2fig twice that', async () => {
    const ctx = async (mode: ColorizeMode) => (await prepareColorizeConditions(cp, inputs(), { mode })).context;
    const [v, fg, bg, f2f] = [await ctx('vanilla'), await ctx('fg_enhance'), await ctx('bg_enhance'), await ctx('fig2fig')];
    expect([v.shape, fg.shape, bg.shape, f2f.shape]).toEqual([[1, 256, 24], [1, 512, 24], [1, 264, 24], [1, 528, 24]]);
    expect(Array.from(fg.data)).toEqual([...v.data, ...v.data]);
    expect(Array.from(f2f.data)).toEqual([...bg.data, ...bg.data]);
    expect(maxAbs(bg.data.subarray(0, 256 * 24), v.data)).toBeGreaterThan(1e-3); // + th(ts_s)
  });

  it('the final step lands on x0 (diffusers 0.31 final_sigmas_type "zero")', async () => {
    const r = await colorizeDiffusionGenerate(cp, inputs(), { mode: 'vanilla', seed: 1, steps: 2, decode: false, trace: true, prediction: 'epsilon' });
    const last = r.trace!.steps[1];
    // ᾱ_t of scaled_linear 0.00085–0.012 (1000 steps), x0 = (x − √(1−ᾱ)·ε)/√ᾱ
    let abar = 1;
    for (let i = 0; i <= last.unetT; i++) abar *= 1 - (Math.sqrt(0.00085) + (i / 999) * (Math.sqrt(0.012) - Math.sqrt(0.00085))) ** 2;
    const x0 = last.unetIn.subarray(0, last.guided.length).map((x, i) => (x - Math.sqrt(1 - abar) * last.guided[i]) / Math.sqrt(abar));
    expect(maxAbs(r.latents.data, x0)).toBeLessThan(1e-4);
    expect(COLORIZE_DIFFUSION_SCHEDULER.final_sigmas_type).toBe('zero');
  });

  it('bad input gives clear errors', async () => {
    const ok = inputs();
    await expect(colorizeDiffusionGenerate(cp, { ...ok, sketchMask: undefined }, { mode: 'fig2fig' })).rejects.toThrow(/sketchMask \(latent size\) is required \(expected \[1,1,8,12\]\)/);
    await expect(colorizeDiffusionGenerate(cp, { ...ok, referenceMask: undefined }, { mode: 'bg_enhance' })).rejects.toThrow(/referenceMask is required/);
    await expect(colorizeDiffusionGenerate(cp, { ...ok, sketch: { shape: [1, 3, 60, 96], data: new Float32Array(3 * 60 * 96) } }, { mode: 'vanilla' })).rejects.toThrow(/multiples of 16/);
    await expect(colorizeDiffusionGenerate(cp, ok, { mode: 'vanilla', steps: 0 })).rejects.toThrow(/steps must be an integer/);
    await expect(colorizeDiffusionGenerate(cp, ok, { mode: 'vanilla', referenceGuidance: Number.NaN })).rejects.toThrow(/referenceGuidance must be a finite number/);
    await expect(colorizeDiffusionGenerate(cp, ok, { mode: 'vanilla', sketchThreshold: 2 })).rejects.toThrow(/sketchThreshold must be in \[0, 1\]/);
    const ac = new AbortController();
    ac.abort();
    await expect(colorizeDiffusionGenerate(cp, ok, { mode: 'vanilla', signal: ac.signal })).rejects.toThrow();
    // Vanilla needs neither mask.
    const v = await colorizeDiffusionGenerate(cp, { sketch: ok.sketch, reference: ok.reference }, { mode: 'vanilla', steps: 2, seed: 1, decode: false });
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
