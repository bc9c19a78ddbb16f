import { describe, it, expect } from 'vitest';
import { inverseRegularizedIncompleteBeta, logGamma, regularizedIncompleteBeta } from './incompleteBeta.ts';

// Reference values: scipy.stats.beta (cdf / ppf).
describe('regularised incomplete beta', () => {
  it('matches scipy.stats.beta.cdf', () => {
    expect(regularizedIncompleteBeta(0.3, 0.6, 0.6)).toBeCloseTo(0.35252651177214367, 14);
    expect(regularizedIncompleteBeta(0.5, 0.6, 0.6)).toBeCloseTo(0.5, 14);
    expect(regularizedIncompleteBeta(0.2, 1, 1)).toBeCloseTo(0.2, 14);
    expect(regularizedIncompleteBeta(0, 2, 3)).toBe(0);
    expect(regularizedIncompleteBeta(1, 2, 3)).toBe(1);
  });

  it('inverts to scipy.stats.beta.ppf', () => {
    expect(inverseRegularizedIncompleteBeta(0.9, 0.6, 0.6)).toBeCloseTo(0.9604155944112192, 14);
    expect(inverseRegularizedIncompleteBeta(0.3, 2, 5)).toBeCloseTo(0.18180347131894917, 14);
    expect(inverseRegularizedIncompleteBeta(1e-6, 0.6, 0.6) / 1.8558824624053043e-10).toBeCloseTo(1, 9);
    expect(inverseRegularizedIncompleteBeta(1, 0.6, 0.6)).toBe(1);
    expect(inverseRegularizedIncompleteBeta(0, 0.6, 0.6)).toBe(0);
  });

  it('round-trips and computes log-gamma', () => {
    for (const p of [0.01, 0.25, 0.5, 0.75, 0.99]) {
      expect(regularizedIncompleteBeta(inverseRegularizedIncompleteBeta(p, 3, 0.7), 3, 0.7)).toBeCloseTo(p, 13);
    }
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 13);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 13);
  });

  it('rejects invalid arguments', () => {
    expect(() => inverseRegularizedIncompleteBeta(1.5, 1, 1)).toThrow(/probability/);
    expect(() => regularizedIncompleteBeta(0.5, 0, 1)).toThrow(/positive/);
    expect(() => logGamma(-1)).toThrow(/z > 0/);
  });
});
