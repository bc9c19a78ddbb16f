import { describe, it, expect } from 'vitest';
import { createTorchGenerator } from '../torchRandom.ts';
import { COMFY_SAMPLERS, COMFY_SCHEDULERS, comfySample, ksamplerSigmas, prepareNoise } from './ksampler.ts';
import { createModelSamplingDiscrete } from './modelSamplingDiscrete.ts';
import { calculateSigmas } from './schedulers.ts';
import type { Denoiser } from './types.ts';

const ms = createModelSamplingDiscrete();
const shape = [1, 4, 4, 4];

/** The ideal denoiser when every training latent equals `target`: D(x, σ) = target. */
const pointMass = (target: number): Denoiser => (x) => new Float32Array(x.length).fill(target);

describe('ksamplerSigmas', () => {
  it('drops the penultimate sigma of a steps+1 schedule for dpm_2 and uni_pc', () => {
    const full = calculateSigmas(ms, 'karras', 11);
    const s = ksamplerSigmas(ms, 'dpm_2', 'karras', 10);
    expect(s.length).toBe(11);
    expect(Array.from(s)).toEqual([...full.subarray(0, 10), 0]);
    expect(ksamplerSigmas(ms, 'uni_pc', 'ddim_uniform', 10).length).toBe(12); // 11 steps: 1000 // 11 = 90
    expect(Array.from(ksamplerSigmas(ms, 'euler', 'karras', 10))).toEqual(Array.from(calculateSigmas(ms, 'karras', 10)));
  });

  it('keeps the last steps + 1 sigmas of the int(steps / denoise) schedule for denoise < 1', () => {
    const s = ksamplerSigmas(ms, 'euler', 'normal', 10, 0.6);
    const full = calculateSigmas(ms, 'normal', 16);
    expect(Array.from(s)).toEqual(Array.from(full.subarray(full.length - 11)));
    expect(ksamplerSigmas(ms, 'euler', 'normal', 10, 0).length).toBe(0);
    expect(Array.from(ksamplerSigmas(ms, 'euler', 'normal', 10, 0.99995))).toEqual(Array.from(calculateSigmas(ms, 'normal', 10)));
  });

  it('rejects bad steps and denoise', () => {
    expect(() => ksamplerSigmas(ms, 'euler', 'normal', 0)).toThrow(/steps/);
    expect(() => ksamplerSigmas(ms, 'euler', 'normal', 10, 1.5)).toThrow(/denoise/);
  });
});

describe('comfySample', () => {
  it('exports the sampler and scheduler lists the CLI prints', () => {
    expect(COMFY_SAMPLERS).toEqual(['euler', 'euler_ancestral', 'heun', 'dpm_2', 'dpmpp_2m', 'dpmpp_2m_sde', 'lcm', 'ddim', 'uni_pc', 'uni_pc_bh2']);
    expect(COMFY_SCHEDULERS).toContain('karras');
  });

  it('every sampler lands on the data point when the data is a point mass', async () => {
    for (const sampler of COMFY_SAMPLERS) {
      for (const scheduler of ['normal', 'karras']) {
        const { samples, latent, noise } = await comfySample({ sampler, scheduler, steps: 8, seed: 3, model: pointMass(0.5), latentShape: shape });
        const worst = samples.reduce((m, v) => Math.max(m, Math.abs(v - 0.5)), 0);
        // UniPC stops at sigma 0.001 instead of 0, so 0.001·ε of the noise is left in its output.
        const noiseMax = noise.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const tol = sampler.startsWith('uni_pc') ? 0.001 * noiseMax : 1e-6;
        expect(worst, `${sampler}/${scheduler}`).toBeLessThanOrEqual(tol);
        expect(latent[0]).toBeCloseTo(samples[0] / 0.18215, 4);
      }
    }
  });

  it('starts from torch.randn(seed) scaled by sqrt(1 + sigma_max^2) for txt2img', async () => {
    const r = await comfySample({ sampler: 'euler', scheduler: 'normal', steps: 4, seed: 42, model: pointMass(0), latentShape: shape });
    expect(Array.from(r.noise)).toEqual(Array.from(createTorchGenerator(42).randn(shape)));
    expect(r.maxDenoise).toBe(true);
    const scale = Math.sqrt(1 + r.sigmas[0] ** 2);
    expect(r.xInit[5]).toBeCloseTo(r.noise[5] * scale, 4);
  });

  it('img2img: scales the latent by 0.18215 and starts at noise·sigma0 + latent', async () => {
    const latentImage = new Float32Array(64).fill(2);
    const r = await comfySample({ sampler: 'euler', scheduler: 'normal', steps: 4, denoise: 0.5, seed: 1, model: pointMass(0), latentShape: shape, latentImage });
    expect(r.maxDenoise).toBe(false);
    expect(r.xInit[0]).toBeCloseTo(r.noise[0] * r.sigmas[0] + 2 * 0.18215, 5);
  });

  it('returns the input latent untouched when denoise is 0', async () => {
    const latentImage = Float32Array.from({ length: 64 }, (_, i) => i);
    let calls = 0;
    const r = await comfySample({ sampler: 'euler', scheduler: 'normal', steps: 4, denoise: 0, seed: 1, model: (x) => { calls++; return x; }, latentShape: shape, latentImage });
    expect(Array.from(r.latent)).toEqual(Array.from(latentImage));
    expect(calls).toBe(0);
  });

  it('ancestral samplers draw from a fresh generator with the same seed (first draw = initial noise)', async () => {
    // With D ≡ 0 the first euler_ancestral step is x1 = x0·σ_down/σ0 + ε1·σ_up, with ε1 = the initial noise.
    const r = await comfySample({ sampler: 'euler_ancestral', scheduler: 'normal', steps: 4, seed: 9, model: pointMass(0), latentShape: shape, callback: () => {} });
    const xs: Float32Array[] = [];
    await comfySample({ sampler: 'euler_ancestral', scheduler: 'normal', steps: 4, seed: 9, model: pointMass(0), latentShape: shape, callback: (_i, _d, x) => xs.push(x) });
    const [s0, s1] = [r.sigmas[0], r.sigmas[1]];
    const up = Math.min(s1, Math.sqrt((s1 ** 2 * (s0 ** 2 - s1 ** 2)) / s0 ** 2));
    const down = Math.sqrt(s1 ** 2 - up ** 2);
    for (const k of [0, 17, 63]) expect(xs[1][k]).toBeCloseTo(r.xInit[k] * (down / s0) + r.noise[k] * up, 3);
  });

  it('calls back once per step with (i, denoised, x, totalSteps)', async () => {
    const seen: [number, number][] = [];
    await comfySample({ sampler: 'heun', scheduler: 'simple', steps: 5, seed: 0, model: pointMass(0), latentShape: shape, callback: (i, d, x, total) => { seen.push([i, total]); expect(d.length).toBe(x.length); } });
    expect(seen).toEqual([[0, 5], [1, 5], [2, 5], [3, 5], [4, 5]]);
  });

  it('dpmpp_2m_sde is seeded: same seed same result, other seed differs', async () => {
    const run = (seed: number) => comfySample({ sampler: 'dpmpp_2m_sde', scheduler: 'karras', steps: 6, seed, model: (x) => x.map((v) => v * 0.5), latentShape: shape });
    const [a, b, c] = await Promise.all([run(5), run(5), run(6)]);
    expect(Array.from(a.samples)).toEqual(Array.from(b.samples));
    expect(Array.from(a.samples)).not.toEqual(Array.from(c.samples));
  });

  it('stops between steps when the signal aborts', async () => {
    const controller = new AbortController();
    let calls = 0;
    const run = comfySample({
      sampler: 'euler', scheduler: 'normal', steps: 10, seed: 0, latentShape: shape, signal: controller.signal,
      model: (x) => { calls++; return x; },
      callback: (i) => { if (i === 2) controller.abort(); },
    });
    await expect(run).rejects.toThrow(/abort/i);
    expect(calls).toBe(3);
  });

  it('rejects unknown names, bad shapes and bad model outputs with clear errors', async () => {
    const base = { scheduler: 'normal', steps: 4, seed: 0, model: pointMass(0), latentShape: shape };
    await expect(comfySample({ ...base, sampler: 'dpm_fast' })).rejects.toThrow(/unknown sampler "dpm_fast"/);
    await expect(comfySample({ ...base, sampler: 'euler', scheduler: 'linear' })).rejects.toThrow(/unknown scheduler/);
    await expect(comfySample({ ...base, sampler: 'euler', latentShape: [1, 4, 0, 4] })).rejects.toThrow(/invalid latent shape/);
    await expect(comfySample({ ...base, sampler: 'euler', latentImage: new Float32Array(3) })).rejects.toThrow(/latentImage has 3 values/);
    await expect(comfySample({ ...base, sampler: 'euler', model: () => new Float32Array(2) })).rejects.toThrow(/denoiser must return a Float32Array of 64/);
    await expect(comfySample({ ...base, sampler: 'uni_pc', steps: 1 })).rejects.toThrow(/uni_pc needs at least 2 steps/);
  });

  it('prepareNoise equals torch.manual_seed(seed); torch.randn(shape)', () => {
    expect(prepareNoise([1, 4, 2, 2], 0)[0]).toBe(-1.1258398294448853);
  });
});
