// The denoising objective: noisy latents and ε / v targets obey the DDPM identities, min-SNR weights
// follow kohya's formula, the noise offset shifts each (sample, channel) plane by one constant.
import { describe, it, expect } from 'vitest';
import { alphasCumprod, makeBetas } from '../sampling/diffusers/betas.ts';
import { createGraph } from '../graph/graph.ts';
import { interpret } from '../graph/interpret.ts';
import { memoryWeights } from '../graph/weights.ts';
import { diffusionBatch, minSnrWeight, weightedMse } from './diffusionObjective.ts';
import { createTrainRng } from './trainRng.ts';

const abar = alphasCumprod(makeBetas({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, num_train_timesteps: 1000, trained_betas: null }));
const x0 = Float32Array.from({ length: 2 * 4 * 3 * 3 }, (_, i) => Math.sin(i));

describe('diffusion objective', () => {
  it('ε: noisy = √ᾱ·x0 + √(1−ᾱ)·target with target the drawn noise', () => {
    const b = diffusionBatch(x0, 2, 4, abar, createTrainRng(5), { prediction: 'eps' });
    const noise = createTrainRng(5).normals(x0.length);
    expect(Array.from(b.target)).toEqual(Array.from(noise));
    for (let i = 0; i < x0.length; i++) {
      const a = abar[b.timesteps[Math.floor(i / 36)]];
      expect(b.noisy[i]).toBeCloseTo(Math.sqrt(a) * x0[i] + Math.sqrt(1 - a) * noise[i], 5);
    }
    expect(Array.from(b.weights)).toEqual([1, 1]);
  });

  it('v: x0 = √ᾱ·noisy − √(1−ᾱ)·v', () => {
    const b = diffusionBatch(x0, 2, 4, abar, createTrainRng(6), { prediction: 'v_prediction' });
    for (let i = 0; i < x0.length; i++) {
      const a = abar[b.timesteps[Math.floor(i / 36)]];
      expect(Math.sqrt(a) * b.noisy[i] - Math.sqrt(1 - a) * b.target[i]).toBeCloseTo(x0[i], 5);
    }
  });

  it('noise offset adds one constant per (sample, channel) plane', () => {
    const b = diffusionBatch(x0, 2, 4, abar, createTrainRng(7), { prediction: 'eps', noiseOffset: 0.1 });
    const noise = createTrainRng(7).normals(x0.length);
    for (let plane = 0; plane < 8; plane++) {
      const shifts = Array.from({ length: 9 }, (_, k) => b.target[plane * 9 + k] - noise[plane * 9 + k]);
      for (const s of shifts) expect(s).toBeCloseTo(shifts[0], 6);
      expect(Math.abs(shifts[0])).toBeGreaterThan(0);
      expect(Math.abs(shifts[0])).toBeLessThan(0.5);
    }
  });

  it('min-SNR-γ weights: min(snr, γ)/snr for ε, min(snr, γ)/(snr + 1) for v', () => {
    const gamma = 5;
    const snrOf = (a: number) => a / (1 - a);
    const hi = 0.99; // snr 99 > γ
    const lo = 0.5; // snr 1 < γ
    expect(minSnrWeight(hi, { prediction: 'eps', minSnrGamma: gamma })).toBeCloseTo(gamma / snrOf(hi), 12);
    expect(minSnrWeight(lo, { prediction: 'eps', minSnrGamma: gamma })).toBeCloseTo(1, 12);
    expect(minSnrWeight(hi, { prediction: 'v_prediction', minSnrGamma: gamma })).toBeCloseTo(gamma / (snrOf(hi) + 1), 12);
    expect(minSnrWeight(lo, { prediction: 'v_prediction', minSnrGamma: gamma })).toBeCloseTo(snrOf(lo) / (snrOf(lo) + 1), 12);
    expect(minSnrWeight(hi, { prediction: 'eps' })).toBe(1);
  });

  it('the high-noise weight multiplies ε steps with snr < 1 by 1/snr up to the cap and leaves snr ≥ 1 alone', () => {
    const snrOf = (a: number) => a / (1 - a);
    const opts = { prediction: 'eps' as const, minSnrGamma: 5, highNoiseWeightCap: 8 };
    expect(minSnrWeight(0.99, opts)).toBeCloseTo(5 / snrOf(0.99), 12); // snr 99: min-SNR only
    expect(minSnrWeight(0.5, opts)).toBeCloseTo(1, 12); // snr 1
    expect(minSnrWeight(0.2, opts)).toBeCloseTo(4, 12); // snr 0.25 → ×4
    expect(minSnrWeight(0.01, opts)).toBeCloseTo(8, 12); // snr ≈ 0.01 → capped
    expect(minSnrWeight(0.2, { prediction: 'eps', highNoiseWeightCap: 8 })).toBeCloseTo(4, 12);
    expect(minSnrWeight(0.2, { prediction: 'v_prediction', minSnrGamma: 5, highNoiseWeightCap: 8 })).toBeCloseTo(snrOf(0.2) / (snrOf(0.2) + 1), 12);
  });

  it('weightedMse is the per-sample weighted mean of squared errors', () => {
    const g = createGraph();
    const p = g.input('p', 'f32', [2, 3]);
    const t = g.input('t', 'f32', [2, 3]);
    const w = g.input('w', 'f32', [2]);
    g.output('loss', weightedMse(p, t, w));
    const out = interpret(g, { p: { shape: [2, 3], data: [1, 2, 3, 0, 0, 0] }, t: { shape: [2, 3], data: [0, 0, 0, 1, 1, 1] }, w: { shape: [2], data: [0.5, 2] } }, memoryWeights({}));
    expect(out.loss.data[0]).toBeCloseTo((0.5 * (14 / 3) + 2 * 1) / 2, 6);
  });
});
