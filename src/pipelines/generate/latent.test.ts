import { describe, expect, it } from 'vitest';
import { bilinearResize } from './pixels.ts';
import { emptyLatent, repeatLatent, resizeEmptyLatent, upscaleLatent, type Latent } from './latent.ts';

const ramp = (n: number, c: number, h: number, w: number): Latent => ({ samples: Float32Array.from({ length: n * c * h * w }, (_, i) => i), shape: [n, c, h, w] });

describe('latent values', () => {
  it('EmptyLatentImage sizes by //8 and is re-made for a model with another factor or channel count', () => {
    const e = emptyLatent(100, 64, 2);
    expect(e.shape).toEqual([2, 4, 8, 12]);
    expect(resizeEmptyLatent(e, 4, 2).shape).toEqual([2, 4, 32, 50]);
    expect(resizeEmptyLatent(repeatLatent(e, 2), 16, 8).shape).toEqual([4, 16, 8, 12]);
    const notEmpty = ramp(1, 4, 8, 8);
    expect(resizeEmptyLatent(notEmpty, 16, 2)).toBe(notEmpty);
  });

  it('LatentUpscale: nearest-exact repeats, bilinear is torch\'s interpolate, centre crop trims the long side', () => {
    const l = ramp(1, 2, 2, 2);
    const near = upscaleLatent(l, 32, 32, 'nearest-exact', 'disabled');
    expect(near.shape).toEqual([1, 2, 4, 4]);
    expect(Array.from(near.samples.subarray(0, 8))).toEqual([0, 0, 1, 1, 0, 0, 1, 1]);
    const big = ramp(1, 1, 4, 6);
    const bil = upscaleLatent(big, 9 * 8, 5 * 8, 'bilinear', 'disabled');
    const want = bilinearResize(big.samples, 6, 4, 9, 5);
    bil.samples.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    const cropped = upscaleLatent(big, 32, 32, 'nearest-exact', 'center');
    expect(cropped.shape).toEqual([1, 1, 4, 4]);
    expect(Array.from(cropped.samples.subarray(0, 4))).toEqual([1, 2, 3, 4]);
  });

  it('LatentUpscale: area, bicubic and bislerp (over the channel vectors), the noise mask kept as ComfyUI\'s copy does', () => {
    const l: Latent = { ...ramp(1, 2, 2, 4), noiseMask: { data: new Float32Array(16).fill(1), shape: [1, 4, 4] } };
    const area = upscaleLatent(l, 16, 8, 'area', 'disabled');
    expect(area.shape).toEqual([1, 2, 1, 2]);
    expect(Array.from(area.samples)).toEqual([2.5, 4.5, 10.5, 12.5]); // 2×2 means of each channel
    expect(area.noiseMask).toBe(l.noiseMask);
    const cubic = upscaleLatent(l, 64, 16, 'bicubic', 'disabled');
    expect(cubic.shape).toEqual([1, 2, 2, 8]);
    const slerped = upscaleLatent(l, 64, 16, 'bislerp', 'disabled');
    expect(slerped.shape).toEqual([1, 2, 2, 8]);
    // Channel vectors (x, x + 8) at the ends of a row are kept; between them the norm follows the ends linearly.
    expect([slerped.samples[0], slerped.samples[16]]).toEqual([0, 8]);
    expect([slerped.samples[7], slerped.samples[23]]).toEqual([3, 11]);
    expect(() => upscaleLatent(l, 4, 4, 'bilinear', 'disabled')).toThrow(/below one latent pixel/);
  });
});
