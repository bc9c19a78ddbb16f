import { describe, it, expect } from 'vitest';
import { createModelSamplingDiscrete } from './modelSamplingDiscrete.ts';

describe('createModelSamplingDiscrete (SD1.x)', () => {
  const ms = createModelSamplingDiscrete();

  it('builds the float32 sigma table of ComfyUI (sigma_min 0.02916716, sigma_max 14.61464)', () => {
    expect(ms.sigmas.length).toBe(1000);
    expect(ms.sigmaMin).toBeCloseTo(0.02916716, 7);
    expect(ms.sigmaMax).toBeCloseTo(14.61464, 4);
    expect(ms.sigmaMax).toBe(Math.fround(ms.sigmaMax));
    for (let i = 1; i < 1000; i++) expect(ms.sigmas[i]).toBeGreaterThan(ms.sigmas[i - 1]);
  });

  it('quantises sigma to the nearest integer timestep in log space', () => {
    expect(ms.timestep(ms.sigmaMax)).toBe(999);
    expect(ms.timestep(ms.sigmaMin)).toBe(0);
    expect(ms.timestep(ms.sigmas[500])).toBe(500);
    // a sigma just past the log-midpoint of 500 and 501 goes to 501
    const mid = Math.sqrt(ms.sigmas[500] * ms.sigmas[501]);
    expect(ms.timestep(mid * 1.0001)).toBe(501);
    expect(ms.timestep(mid * 0.9999)).toBe(500);
    expect(ms.timestep(100)).toBe(999);
  });

  it('interpolates sigma(t) in log space and clamps t to [0, 999]', () => {
    // exp(float32 log σ) in float32 is within an ulp of the table, not always equal (14.614640 vs 14.614641)
    expect(ms.sigma(999)).toBeCloseTo(ms.sigmaMax, 5);
    expect(ms.sigma(0)).toBeCloseTo(ms.sigmaMin, 7);
    expect(ms.sigma(1200)).toBe(ms.sigma(999));
    expect(ms.sigma(-3)).toBe(ms.sigma(0));
    expect(ms.sigma(400.5)).toBeCloseTo(Math.sqrt(ms.sigmas[400] * ms.sigmas[401]), 5);
  });

  it('applies the EPS input and denoised formulas', () => {
    const x = Float32Array.from([3, -4]);
    const root5 = Math.fround(Math.sqrt(5)); // √(σ² + 1) is a float32 tensor op
    expect(Array.from(ms.calculateInput(2, x))).toEqual([Math.fround(3 / root5), Math.fround(-4 / root5)]);
    expect(Array.from(ms.calculateDenoised(2, Float32Array.from([1, 1]), x))).toEqual([1, -6]);
  });

  it('applies the V_PREDICTION denoised formula (perfect v gives the clean latent)', () => {
    const v = createModelSamplingDiscrete({ predictionType: 'v_prediction' });
    const clean = 0.75; const sigma = 3; const eps = -1.25;
    const x = Float32Array.from([clean + sigma * eps]);
    const root = Math.sqrt(sigma * sigma + 1);
    const out = Float32Array.from([(x[0] / (sigma * sigma + 1) - clean) * root / sigma]);
    expect(v.calculateDenoised(sigma, out, x)[0]).toBeCloseTo(clean, 5);
  });

  it('scales the start noise by sqrt(1 + sigma^2) only for max denoise', () => {
    const noise = Float32Array.from([1, 2]);
    const latent = Float32Array.from([10, 20]);
    expect(Array.from(ms.noiseScaling(3, noise, latent, true))).toEqual([Math.fround(10 + Math.fround(Math.sqrt(10))), Math.fround(20 + 2 * Math.fround(Math.sqrt(10)))]);
    expect(Array.from(ms.noiseScaling(3, noise, latent, false))).toEqual([13, 26]);
  });

  it('rejects bad configuration and mismatched model outputs', () => {
    expect(() => createModelSamplingDiscrete({ predictionType: 'x0' as 'eps' })).toThrow(/prediction type/);
    expect(() => createModelSamplingDiscrete({ timesteps: 1 })).toThrow(/timesteps/);
    expect(() => createModelSamplingDiscrete({ linearStart: 0.02, linearEnd: 0.01 })).toThrow(/beta range/);
    expect(() => ms.calculateDenoised(1, new Float32Array(3), new Float32Array(4))).toThrow(/3 values, expected 4/);
  });
});
