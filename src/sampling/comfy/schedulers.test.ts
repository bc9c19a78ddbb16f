import { describe, it, expect } from 'vitest';
import { linspaceF32 } from './float32.ts';
import { createModelSamplingDiscrete } from './modelSamplingDiscrete.ts';
import { calculateSigmas, COMFY_SCHEDULERS } from './schedulers.ts';

const ms = createModelSamplingDiscrete();

describe('ComfyUI schedulers (SD1.x, 10 steps)', () => {
  it('lists the seven scheduler names and every one ends at 0, descending', () => {
    expect([...COMFY_SCHEDULERS].sort()).toEqual(['beta', 'ddim_uniform', 'exponential', 'karras', 'normal', 'sgm_uniform', 'simple']);
    for (const name of COMFY_SCHEDULERS) {
      const s = calculateSigmas(ms, name, 10);
      expect(s[s.length - 1], name).toBe(0);
      for (let i = 1; i < s.length; i++) expect(s[i], `${name}[${i}]`).toBeLessThan(s[i - 1]);
    }
  });

  it('normal: linspace(999, 0, steps) in t, so the last nonzero sigma is sigma_min', () => {
    const s = calculateSigmas(ms, 'normal', 10);
    expect(s.length).toBe(11);
    expect(s[0]).toBe(ms.sigma(999));
    expect(s[0]).toBeCloseTo(ms.sigmaMax, 5);
    expect(s[9]).toBe(ms.sigma(0));
    expect(s[1]).toBe(ms.sigma(888));
  });

  it('sgm_uniform stops at t = 99.9 (0.3437); simple at grid index 99 (0.3417)', () => {
    expect(calculateSigmas(ms, 'sgm_uniform', 10)[9]).toBeCloseTo(0.3437, 4);
    const simple = calculateSigmas(ms, 'simple', 10);
    expect(simple[9]).toBe(ms.sigmas[99]);
    expect(simple[0]).toBe(ms.sigmas[999]);
  });

  it('ddim_uniform starts at grid index 901 and ends at index 1; its length depends on 1000 // steps', () => {
    const s = calculateSigmas(ms, 'ddim_uniform', 10);
    expect(s.length).toBe(11);
    expect(s[0]).toBe(ms.sigmas[901]);
    expect(s[9]).toBe(ms.sigmas[1]);
    expect(calculateSigmas(ms, 'ddim_uniform', 11).length).toBe(13); // 1000 // 11 = 90 → 12 grid points + 0
  });

  it('karras and exponential span sigma_max → sigma_min', () => {
    for (const name of ['karras', 'exponential']) {
      const s = calculateSigmas(ms, name, 10);
      expect(s[0]).toBeCloseTo(ms.sigmaMax, 4);
      expect(s[9]).toBeCloseTo(ms.sigmaMin, 6);
    }
    const k = calculateSigmas(ms, 'karras', 10);
    const root = (x: number) => x ** (1 / 7);
    expect(root(k[1]) - root(k[0])).toBeCloseTo(root(k[5]) - root(k[4]), 5); // uniform in σ^(1/7)
  });

  it('beta picks grid indices rint(999 · BetaPPF(1 − i/steps; 0.6, 0.6)) (scipy: 999 959 876 765 637 500 362 234 123 40)', () => {
    const s = calculateSigmas(ms, 'beta', 10);
    expect(Array.from(s.subarray(0, 10))).toEqual([999, 959, 876, 765, 637, 500, 362, 234, 123, 40].map((i) => ms.sigmas[i]));
  });

  it('rejects unknown schedulers and bad step counts', () => {
    expect(() => calculateSigmas(ms, 'cosine', 10)).toThrow(/unknown scheduler "cosine"/);
    expect(() => calculateSigmas(ms, 'normal', 0)).toThrow(/positive integer/);
    expect(() => calculateSigmas(ms, 'normal', 2.5)).toThrow(/positive integer/);
  });
});

describe('linspaceF32', () => {
  it('computes both halves from their own end like torch', () => {
    expect(Array.from(linspaceF32(999, 0, 10))).toEqual([999, 888, 777, 666, 555, 444, 333, 222, 111, 0]);
    expect(Array.from(linspaceF32(0, 1, 1))).toEqual([0]);
    expect(linspaceF32(0, 1, 0).length).toBe(0);
  });
});
