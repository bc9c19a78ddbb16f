import { describe, it, expect } from 'vitest';
import { fitLogistic } from './fitLogistic.ts';
import { createRng } from '../../imaging/synthetic/random.ts';

describe('fitLogistic', () => {
  it('recovers a separating direction on raw (unscaled) features', () => {
    // Label = x0 + 100·x1 > 50, features of very different scales; noise-free, so the fit must separate well.
    const rng = createRng(7);
    const x: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < 400; i++) {
      const a = rng.range(0, 100);
      const b = rng.range(0, 1);
      x.push([a, b, rng.range(-1, 1)]);
      y.push(a + 100 * b > 100 ? 1 : 0);
    }
    const fit = fitLogistic(x, y);
    expect(fit.trainAccuracy).toBeGreaterThan(0.95);
    expect(fit.weights[0]).toBeGreaterThan(0);
    expect(fit.weights[1] / fit.weights[0]).toBeGreaterThan(50); // ≈ 100: the second feature counts 100×
    expect(fit.weights[1] / fit.weights[0]).toBeLessThan(200);
    expect(Math.abs(fit.weights[2])).toBeLessThan(Math.abs(fit.weights[0]) * 10);
  });

  it('rejects mismatched samples and labels', () => {
    expect(() => fitLogistic([[1], [2]], [1])).toThrow(/2 samples but 1 labels/);
  });
});
