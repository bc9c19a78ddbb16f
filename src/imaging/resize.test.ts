import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createImage, decodeImage, type Image } from './image.ts';
import { pillowResize } from './pillowResize.ts';
import { centreCrop, resizeImage } from './resize.ts';

const golden = resolve(process.env.INKFLOW_GOLDEN ?? join(import.meta.dirname, '../../../shared/golden'));

function row(values: number[]): Image {
  const img = createImage(values.length, 1, 1);
  img.data.set(values);
  return img;
}

describe('Pillow resampling vs the CLIP preprocessor golden', () => {
  it('PIL BICUBIC 80×60 → 42×32, centre crop 32 reproduces reference_pixel_values byte for byte', async () => {
    const src = await decodeImage(join(golden, 'sdro_pipeline/reference.png'), 3);
    expect([src.width, src.height]).toEqual([80, 60]);
    const resized = pillowResize(src, 42, 32, 'bicubic');
    const buf = readFileSync(join(golden, 'sdro_pipeline/tensors/reference_pixel_values.bin'));
    const pv = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    const mean = [0.48145466, 0.4578275, 0.40821073];
    const std = [0.26862954, 0.26130258, 0.27577711];
    let diff = 0;
    let maxResidual = 0;
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          const v = (pv[(c * 32 + y) * 32 + x] * std[c] + mean[c]) * 255;
          maxResidual = Math.max(maxResidual, Math.abs(v - Math.round(v)));
          if (Math.round(v) !== resized.data[(y * 42 + x + 5) * 3 + c]) diff++;
        }
      }
    }
    console.log(`[golden] PIL bicubic resize: ${diff} of 3072 bytes differ (golden uint8 recovered with max residual ${maxResidual.toExponential(2)})`);
    expect(maxResidual).toBeLessThan(1e-3);
    expect(diff).toBe(0);
  });
});

describe('resizeImage (ComfyUI ImageScale)', () => {
  it('nearest-exact picks torch indices', () => {
    expect(Array.from(resizeImage(row([10, 20, 30, 40]), 2, 1, 'nearest-exact').data)).toEqual([20, 40]);
    expect(Array.from(resizeImage(row([10, 20]), 4, 1, 'nearest-exact').data)).toEqual([10, 10, 20, 20]);
    expect(Array.from(resizeImage(row([1, 2, 3]), 2, 1, 'nearest-exact').data)).toEqual([1, 3]);
  });

  it('bilinear uses half-pixel centres, no antialias, clamped at the border', () => {
    expect(Array.from(resizeImage(row([0, 10, 20, 30]), 2, 1, 'bilinear').data)).toEqual([5, 25]);
    expect(Array.from(resizeImage(row([0, 100]), 4, 1, 'bilinear').data)).toEqual([0, 25, 75, 100]);
  });

  it('bicubic (A = −0.75) keeps flat images flat and overshoots a step like torch', () => {
    const flat = createImage(7, 5, 3, 77);
    expect(resizeImage(flat, 13, 9, 'bicubic').data.every((v) => v === 77)).toBe(true);
    // [0,0,100,100] → 8: at dst 3 the source is 1.25: taps 0..3 with t = 0.25.
    const up = resizeImage(row([0, 0, 100, 100]), 8, 1, 'bicubic').data;
    const w = (x: number) => {
      const t = Math.abs(x);
      return t <= 1 ? (1.25 * t - 2.25) * t * t + 1 : t < 2 ? ((-0.75 * t + 3.75) * t - 6) * t + 3 : 0;
    };
    expect(up[3]).toBe(Math.round(100 * (w(0.75) + w(1.75))));
    expect(up[2]).toBe(0); // clamped undershoot
  });

  it('area averages the adaptive-pool windows', () => {
    expect(Array.from(resizeImage(row([0, 10, 20, 30]), 2, 1, 'area').data)).toEqual([5, 25]);
    expect(Array.from(resizeImage(row([0, 30, 60]), 2, 1, 'area').data)).toEqual([15, 45]);
  });

  it('lanczos: flat stays flat, identity size is a copy, output is near a float reference', () => {
    const flat = createImage(9, 6, 3, 200);
    expect(resizeImage(flat, 4, 3, 'lanczos').data.every((v) => v === 200)).toBe(true);
    const r = row([0, 50, 100, 150, 200, 250, 200, 150]);
    expect(Array.from(resizeImage(r, 8, 1, 'lanczos').data)).toEqual(Array.from(r.data));
    const half = resizeImage(r, 4, 1, 'lanczos').data;
    expect(half.length).toBe(4);
    // Output 1 is centred on source 2.5 (values 100|150); symmetric taps → 125 ± small ringing.
    expect(Math.abs(half[1] - 125)).toBeLessThanOrEqual(6);
  });

  it('crop center trims the longer side with Python rounding, and 0 keeps the aspect', () => {
    const img = createImage(10, 4, 1);
    for (let i = 0; i < 40; i++) img.data[i] = i % 10;
    const c = centreCrop(img, 1);
    expect([c.width, c.height]).toEqual([4, 4]);
    expect(Array.from(c.data.slice(0, 4))).toEqual([3, 4, 5, 6]);
    const scaled = resizeImage(img, 0, 2, 'nearest-exact');
    expect([scaled.width, scaled.height]).toEqual([5, 2]);
    expect(resizeImage(img, 0, 0)).toBe(img);
  });

  it('rejects bad sizes and unknown methods', () => {
    expect(() => resizeImage(row([1]), -1, 1)).toThrow(/integers ≥ 0/);
    expect(() => resizeImage(row([1]), 2, 1, 'cubic' as never)).toThrow(/unknown method cubic/);
    expect(() => resizeImage(row([1]), 2, 1, 'bilinear', 'top' as never)).toThrow(/unknown crop/);
  });
});
