// ComfyUI's linear latent previews: SD1/SD2 share one set of factors, SDXL has its own plus a bias; bytes
// are ((v + 1) / 2) clamped, × 255, truncated.
import { describe, expect, it } from 'vitest';
import { latentToRgb } from './latentRgb.ts';
import { firstEntryWithin } from './stepPreviewer.ts';

/** One pixel whose latent is 1 in channel `ch` and 0 elsewhere. */
const unit = (ch: number) => Float32Array.from({ length: 4 }, (_, i) => (i === ch ? 1 : 0));

describe('latent → RGB previews', () => {
  it('SD1 and SD2 use ComfyUI\'s SD15 factors', () => {
    // Channel 0 → (0.3512, 0.2297, 0.3227): ((v + 1) / 2) · 255 = 172.28, 156.79, 168.64 → truncated.
    expect([...latentToRgb(unit(0), [1, 4, 1, 1], 'sd1')]).toEqual([172, 156, 168]);
    // Channel 3 → (−0.2120, −0.2616, −0.7177): 100.47, 94.15, 35.99 → truncated, not rounded.
    expect([...latentToRgb(unit(3), [1, 4, 1, 1], 'sd2')]).toEqual([100, 94, 35]);
  });

  it('SDXL uses its own factors and bias, not SD1\'s', () => {
    // Channel 0 → (0.3651, 0.4232, 0.4341) + (0.1084, −0.0175, −0.0011) = 0.4735, 0.4057, 0.4330.
    expect([...latentToRgb(unit(0), [1, 4, 1, 1], 'sdxl')]).toEqual([187, 179, 182]);
    // A zero latent shows the bias alone: 0.5542·255, 0.49125·255, 0.49945·255 = 141.3, 125.3, 127.4.
    expect([...latentToRgb(new Float32Array(4), [1, 4, 1, 1], 'sdxl')]).toEqual([141, 125, 127]);
    expect([...latentToRgb(new Float32Array(4), [1, 4, 1, 1], 'sd1')]).toEqual([127, 127, 127]);
  });

  it('clamps, reads the first batch entry only and lays pixels out row by row', () => {
    const latent = new Float32Array(2 * 4 * 2); // batch 2, 4 channels, 1×2
    latent[0] = 10; // entry 0, channel 0, pixel 0: far past white
    latent[1] = -10; // pixel 1: far past black
    latent.fill(5, 8); // entry 1 must not show
    expect([...latentToRgb(latent, [2, 4, 1, 2], 'sd1')]).toEqual([255, 255, 255, 0, 0, 0]);
  });

  it('averages a latent over 64 wide down by an integer factor before TAESD (previews stay ≤ 512 px)', () => {
    const h = 128, w = 96;
    const latent = Float32Array.from({ length: 4 * h * w }, (_, i) => i % 7);
    const small = firstEntryWithin(latent, [1, 4, h, w], 64);
    expect(small.shape).toEqual([1, 4, 64, 48]);
    // Output pixel (1, 2) of channel 3 averages input rows 2–3, columns 4–5.
    const at = (y: number, x: number) => latent[3 * h * w + y * w + x];
    expect(small.data[3 * 64 * 48 + 1 * 48 + 2]).toBeCloseTo((at(2, 4) + at(2, 5) + at(3, 4) + at(3, 5)) / 4, 6);
    expect(firstEntryWithin(latent, [1, 4, 64, 64], 64).shape).toEqual([1, 4, 64, 64]);
  });
});
