import { describe, it, expect } from 'vitest';
import { createImage, type Image } from './image.ts';
import { colourisationAccuracy, msSsim, mse, psnr, ssim, type RegionLabels } from './metrics.ts';

function random(w: number, h: number, c: 1 | 3, seed: number): Image {
  const img = createImage(w, h, c);
  let s = seed >>> 0;
  for (let i = 0; i < img.data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    img.data[i] = s >>> 24;
  }
  return img;
}

/** Brute-force SSIM on a grey image: per window, the weighted statistics written out directly. */
function referenceSsim(a: Image, b: Image): number {
  const g: number[] = [];
  for (let i = 0; i < 11; i++) g.push(Math.exp(-((i - 5) ** 2) / 4.5));
  const gs = g.reduce((x, y) => x + y);
  const C1 = (0.01 * 255) ** 2, C2 = (0.03 * 255) ** 2;
  let total = 0, count = 0;
  for (let y = 0; y + 11 <= a.height; y++) {
    for (let x = 0; x + 11 <= a.width; x++) {
      let m1 = 0, m2 = 0;
      for (let j = 0; j < 11; j++) for (let i = 0; i < 11; i++) {
        const wgt = (g[i] * g[j]) / (gs * gs);
        m1 += wgt * a.data[(y + j) * a.width + x + i];
        m2 += wgt * b.data[(y + j) * a.width + x + i];
      }
      let v1 = 0, v2 = 0, cov = 0;
      for (let j = 0; j < 11; j++) for (let i = 0; i < 11; i++) {
        const wgt = (g[i] * g[j]) / (gs * gs);
        const p = a.data[(y + j) * a.width + x + i] - m1;
        const q = b.data[(y + j) * a.width + x + i] - m2;
        v1 += wgt * p * p;
        v2 += wgt * q * q;
        cov += wgt * p * q;
      }
      total += ((2 * m1 * m2 + C1) * (2 * cov + C2)) / ((m1 * m1 + m2 * m2 + C1) * (v1 + v2 + C2));
      count++;
    }
  }
  return total / count;
}

describe('psnr', () => {
  it('is +Infinity for identical images and 10·log10(255²/100) for ±10 noise', () => {
    const a = createImage(16, 16, 3, 128);
    expect(psnr(a, a)).toBe(Infinity);
    const b = createImage(16, 16, 3);
    for (let i = 0; i < b.data.length; i++) b.data[i] = i % 2 ? 138 : 118;
    expect(mse(a, b)).toBe(100);
    const p = psnr(a, b);
    console.log(`[metrics] psnr ±10 noise: ${p.toFixed(6)} dB`);
    expect(p).toBeCloseTo(10 * Math.log10(65025 / 100), 10);
    expect(p).toBeCloseTo(28.1308, 4);
  });

  it('rejects mismatched sizes, channel counts and empty images', () => {
    expect(() => psnr(createImage(4, 4, 3), createImage(4, 5, 3))).toThrow(/sizes differ/);
    expect(() => psnr(createImage(4, 4, 3), createImage(4, 4, 1))).toThrow(/channel counts differ/);
    const empty = { width: 0, height: 0, channels: 3 as const, data: new Uint8Array(0) };
    expect(() => psnr(empty, empty)).toThrow(/positive integer size/);
  });
});

describe('ssim', () => {
  it('is 1 for identical images (luma and rgb)', () => {
    const a = random(32, 24, 3, 1);
    expect(ssim(a, a)).toBeCloseTo(1, 12);
    expect(ssim(a, a, { channels: 'rgb' })).toBeCloseTo(1, 12);
  });

  it('matches a brute-force per-window computation', () => {
    const a = random(24, 20, 1, 2);
    const b = random(24, 20, 1, 3);
    for (let i = 0; i < b.data.length; i++) b.data[i] = Math.round((a.data[i] * 3 + b.data[i]) / 4);
    const got = ssim(a, b);
    const ref = referenceSsim(a, b);
    console.log(`[metrics] ssim ${got.toFixed(8)} vs brute force ${ref.toFixed(8)}, |diff| ${Math.abs(got - ref).toExponential(2)}`);
    expect(Math.abs(got - ref)).toBeLessThan(1e-10);
    expect(got).toBeGreaterThan(0.3);
    expect(got).toBeLessThan(0.99);
  });

  it('flat images differing only in level give the luminance term exactly', () => {
    const a = createImage(16, 16, 1, 100);
    const b = createImage(16, 16, 1, 110);
    const C1 = 6.5025;
    expect(ssim(a, b)).toBeCloseTo((2 * 100 * 110 + C1) / (100 * 100 + 110 * 110 + C1), 10);
  });

  it('rejects images smaller than the 11×11 window', () => {
    expect(() => ssim(createImage(10, 40, 1), createImage(10, 40, 1))).toThrow(/at least 11×11/);
  });
});

describe('msSsim', () => {
  it('is 1 for identical images and lum^0.1333 for a constant level offset', () => {
    const a = random(180, 176, 3, 4);
    expect(msSsim(a, a)).toBeCloseTo(1, 10);
    const f1 = createImage(176, 176, 1, 100);
    const f2 = createImage(176, 176, 1, 110);
    const lum = (2 * 100 * 110 + 6.5025) / (100 * 100 + 110 * 110 + 6.5025);
    expect(msSsim(f1, f2)).toBeCloseTo(lum ** 0.1333, 10);
  });

  it('drops with noise and rejects images under 176 px', () => {
    const a = random(192, 192, 1, 5);
    const b = createImage(192, 192, 1);
    for (let i = 0; i < b.data.length; i++) b.data[i] = Math.min(255, Math.max(0, a.data[i] + ((i * 7919) % 41) - 20));
    const v = msSsim(a, b);
    expect(v).toBeLessThan(1);
    expect(v).toBeGreaterThan(0.5);
    expect(() => msSsim(createImage(175, 200, 1), createImage(175, 200, 1))).toThrow(/at least 176×176/);
  });
});

describe('colourisationAccuracy', () => {
  // 6×2 image: columns 0–1 region 1, column 2 line (0), columns 3–5 region 2 on row 0 and region 3 on row 1.
  const labels: RegionLabels = { width: 6, height: 2, labels: Int32Array.from([1, 1, 0, 2, 2, 2, 1, 1, 0, 3, 3, 3]) };
  const paint = (cols: number[][]): Image => {
    const img = createImage(6, 2, 3);
    cols.forEach((c, i) => img.data.set(c, i * 3));
    return img;
  };
  const R = [255, 0, 0], G = [0, 255, 0], B = [0, 0, 255], K = [0, 0, 0];
  const gt = paint([R, R, K, G, G, G, R, R, K, B, B, B]);

  it('perfect prediction scores 1 everywhere; line pixels are ignored', () => {
    const pred = paint([R, R, G, G, G, G, R, R, R, B, B, B]);
    const acc = colourisationAccuracy(gt, pred, labels);
    expect(acc).toMatchObject({ segmentAccuracy: 1, pixelAccuracy: 1, regionPixelAccuracy: 1, regions: 3, correctRegions: 3 });
  });

  it('one wrong region of three, one stray pixel inside a correct region (majority wins)', () => {
    // region 1 (4 px) all right; region 2 (3 px) majority green with one red pixel; region 3 (3 px) wrong.
    const pred = paint([R, R, K, G, R, G, R, R, K, G, G, G]);
    const acc = colourisationAccuracy(gt, pred, labels, { minRegionPixels: 3 });
    expect(acc.segmentAccuracy).toBeCloseTo(2 / 3, 12);
    expect(acc.regionPixelAccuracy).toBeCloseTo(7 / 10, 12);
    expect(acc.pixelAccuracy).toBeCloseTo(6 / 10, 12);
    expect(acc.segmentAccuracyThresholded).toBe(1); // only region 1 has > 3 pixels
    // With mean colour, region 2's mean is off by 85 in red: wrong unless the tolerance allows it.
    expect(colourisationAccuracy(gt, pred, labels, { regionColour: 'mean' }).segmentAccuracy).toBeCloseTo(1 / 3, 12);
    expect(colourisationAccuracy(gt, pred, labels, { regionColour: 'mean', tolerance: 85 }).segmentAccuracy).toBeCloseTo(2 / 3, 12);
  });

  it('rejects mismatched labels, negative labels and label maps with no regions', () => {
    expect(() => colourisationAccuracy(gt, gt, { width: 5, height: 2, labels: new Int32Array(10) })).toThrow(/Int32Array of 6×2/);
    expect(() => colourisationAccuracy(gt, gt, { width: 6, height: 2, labels: new Int32Array(12).fill(-1) })).toThrow(/negative region label/);
    expect(() => colourisationAccuracy(gt, gt, { width: 6, height: 2, labels: new Int32Array(12) })).toThrow(/no regions/);
    expect(() => colourisationAccuracy(gt, createImage(6, 3, 3), labels)).toThrow(/sizes differ/);
  });
});
