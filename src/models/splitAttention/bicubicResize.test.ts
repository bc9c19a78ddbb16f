// torch bicubic (align_corners=False, A = −0.75) weights, pinned by hand-computed values.
import { describe, it, expect } from 'vitest';
import { bicubicMatrix, resizeBicubicHost } from './bicubicResize.ts';

describe('bicubic resize matrices', () => {
  it('halving uses taps −0.09375, 0.59375, 0.59375, −0.09375 with clamped edges', () => {
    const m = Array.from(bicubicMatrix(4, 2));
    expect(m).toEqual([0.5, 0.59375, -0.09375, 0, 0, -0.09375, 0.59375, 0.5]);
  });
  it('same size is the identity; rows sum to 1', () => {
    expect(Array.from(bicubicMatrix(3, 3))).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const m = bicubicMatrix(7, 4);
    for (let r = 0; r < 4; r++) expect(m.subarray(r * 7, r * 7 + 7).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
  });
  it('host resize of a step edge overshoots like torch (values outside [0,1])', () => {
    const plane = Float32Array.from({ length: 16 }, (_, i) => (i % 4 < 2 ? 1 : 0)); // 4×4, left half 1
    const out = resizeBicubicHost(plane, 4, 4, 2, 2);
    expect(Array.from(out)).toEqual([1.09375, -0.09375, 1.09375, -0.09375]);
    expect(() => resizeBicubicHost(new Float32Array(5), 2, 2, 1, 1)).toThrow(/not planes of 2×2/);
    expect(() => bicubicMatrix(0, 2)).toThrow(/positive integers/);
  });
});
