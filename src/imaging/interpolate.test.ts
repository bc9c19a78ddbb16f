// Float resizing with torch's interpolate semantics (align_corners False, no antialias) and ComfyUI's bislerp,
// on cases small enough to compute by hand.
import { describe, expect, it } from 'vitest';
import { bislerp, centreCropPlanes, interpolatePlanes, type FloatPlanes } from './interpolate.ts';

const row = (values: number[], c = 1): FloatPlanes => ({ n: 1, h: 1, w: values.length / c, c, data: Float32Array.from(values) });
const resized = (p: FloatPlanes, w: number, m: Parameters<typeof interpolatePlanes>[3]) => Array.from(interpolatePlanes(p, p.h, w, m).data);

/** Keys' cubic with torch's a = −0.75. */
function keys(x: number): number {
  const a = -0.75;
  const t = Math.abs(x);
  return t <= 1 ? ((a + 2) * t - (a + 3)) * t * t + 1 : t < 2 ? ((a * t - 5 * a) * t + 8 * a) * t - 4 * a : 0;
}

describe('interpolate (torch semantics)', () => {
  it('bilinear 2 → 4: sources clamp at 0 and at the last pixel', () => {
    expect(resized(row([0, 1]), 4, 'bilinear')).toEqual([0, 0.25, 0.75, 1]);
  });

  it('nearest-exact 3 → 5 picks floor((d + ½) · 3/5)', () => {
    expect(resized(row([10, 20, 30]), 5, 'nearest-exact')).toEqual([10, 10, 20, 30, 30]);
  });

  it('area is adaptive average pooling (4 → 2, and overlapping windows 3 → 2)', () => {
    expect(resized(row([1, 3, 5, 7]), 2, 'area')).toEqual([2, 6]);
    expect(resized(row([1, 3, 8]), 2, 'area')).toEqual([2, 5.5]);
  });

  it('bicubic 2 → 4 overshoots like torch (a = −0.75, unclamped source, clamped taps)', () => {
    const out = resized(row([0, 1]), 4, 'bicubic');
    // d = 0: src −0.25, taps −2…1 → only the last one reads 1: K(1.25); d = 1: src 0.25 → K(0.75) + K(1.75).
    const want = [keys(1.25), keys(0.75) + keys(1.75), 1 - keys(0.75) - keys(1.75), 1 - keys(1.25)];
    out.forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));
    expect(want[0]).toBeCloseTo(-0.10546875, 12);
  });

  it('works on channels-last pixels, channel by channel, and keeps values that 8 bit cannot hold', () => {
    const out = resized(row([0.3, 0.9, 0.5, 0.1], 2), 4, 'bilinear');
    out.filter((_, i) => i % 2 === 0).forEach((v, i) => expect(v).toBeCloseTo([0.3, 0.35, 0.45, 0.5][i], 7));
    expect(out[1]).toBe(Math.fround(0.9));
  });

  it('centre crop trims the long side symmetrically (round half to even)', () => {
    const p: FloatPlanes = { n: 1, h: 2, w: 4, c: 1, data: Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]) };
    const c = centreCropPlanes(p, 2, 2);
    expect([c.w, c.h, ...c.data]).toEqual([2, 2, 1, 2, 5, 6]);
    expect(centreCropPlanes(p, 8, 4)).toBe(p);
  });
});

describe('bislerp (ComfyUI)', () => {
  it('slerps each pixel\'s channel vector between bilinear neighbours, interpolating the norms linearly', () => {
    // NCHW [1, 2, 1, 2]: pixel 0 = (1, 0), pixel 1 = (0, 1); width 2 → 4 gives ratios 0, ¼, ¾ and the last pixel.
    const out = bislerp(Float32Array.from([1, 0, 0, 1]), [1, 2, 1, 2], 1, 4);
    const [s, c] = [Math.sin(Math.PI / 8), Math.cos(Math.PI / 8)];
    const ch0 = Array.from(out.subarray(0, 4));
    const ch1 = Array.from(out.subarray(4, 8));
    [1, c, s, 0].forEach((v, i) => expect(ch0[i]).toBeCloseTo(v, 6));
    [0, s, c, 1].forEach((v, i) => expect(ch1[i]).toBeCloseTo(v, 6));
    // Norms 2 and 1 at ratio ½: direction halfway (45°), length 1.5.
    const mid = bislerp(Float32Array.from([2, 0, 0, 1]), [1, 2, 1, 2], 1, 3);
    expect(mid[1]).toBeCloseTo(1.5 * Math.SQRT1_2, 6);
    expect(mid[4]).toBeCloseTo(1.5 * Math.SQRT1_2, 6);
  });

  it('copies the first vector when both point the same way (one channel: no interpolation at all)', () => {
    expect(Array.from(bislerp(Float32Array.from([1, 3]), [1, 1, 1, 2], 1, 4))).toEqual([1, 1, 1, 3]);
  });
});
