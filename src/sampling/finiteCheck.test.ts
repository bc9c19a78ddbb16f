import { describe, expect, it } from 'vitest';
import { assertFinite, countNonFinite, firstNonFinite, NonFiniteError } from './finiteCheck.ts';
import { comfySample } from './comfy/ksampler.ts';

describe('finite checks', () => {
  it('finds NaN and ±inf, and only them', () => {
    expect(firstNonFinite(new Float32Array([0, -3e38, 1e-45, 5]))).toBe(-1);
    expect(firstNonFinite(new Float32Array([0, 1, NaN, Infinity]))).toBe(2);
    expect(countNonFinite(new Float32Array([-Infinity, 1, NaN, Infinity]))).toBe(3);
    expect(() => assertFinite(new Float32Array([1, -Infinity]), 'x')).toThrow('x has 1 non-finite value of 2 (first -Infinity at index 1)');
  });

  it('comfySample stops at the first step whose denoised latent is not finite, naming the step', async () => {
    let calls = 0;
    const model = (x: Float32Array) => {
      calls++;
      return calls === 3 ? x.map((v, i) => (i === 5 ? NaN : v * 0.5)) : x.map((v) => v * 0.5);
    };
    const e = await comfySample({ sampler: 'euler', scheduler: 'normal', steps: 6, seed: 1, model, latentShape: [1, 4, 4, 4] }).catch((x: Error) => x);
    expect(e).toBeInstanceOf(NonFiniteError);
    expect((e as NonFiniteError).step).toBe(3);
    expect((e as Error).message).toMatch(/^denoised latent at step 3\/6 \(sigma [\d.]+\) has 1 non-finite value of 64 \(first NaN at index 5\)/);
  });
});
