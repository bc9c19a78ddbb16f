import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { decodeImage, createImage, type Image } from './image.ts';
import { toGray } from './grayscale.ts';
import { adaptiveThreshold, boxMean, gaussianMean, getGaussianKernel, roundHalfEven } from './threshold.ts';
import { blueprintFromColour } from './lineart.ts';

const golden = resolve(process.env.INKFLOW_GOLDEN ?? join(import.meta.dirname, '../../../shared/golden'));
const sdro = join(golden, 'sdro_pipeline');

function countDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

describe('blueprint line art vs cv2 4.6 golden (bit-exact)', () => {
  it('golden files are present', () => {
    expect(existsSync(join(sdro, 'blueprint_source.png')), `missing ${sdro}/blueprint_source.png (set INKFLOW_GOLDEN)`).toBe(true);
  });

  it('source → gray → threshold → blueprint matches every byte', async () => {
    const src = await decodeImage(join(sdro, 'blueprint_source.png'), 3);
    const gray = toGray(src);
    const goldGray = await decodeImage(join(sdro, 'blueprint_gray.png'), 1);
    const dGray = countDiff(gray.data, goldGray.data);

    const thr = adaptiveThreshold(gray, 255, 'ADAPTIVE_THRESH_MEAN_C', 'THRESH_BINARY', 5, 7);
    const goldThr = await decodeImage(join(sdro, 'blueprint_threshold.png'), 1);
    const dThr = countDiff(thr.data, goldThr.data);

    const bp = blueprintFromColour(src);
    const goldBp = await decodeImage(join(sdro, 'blueprint.png'), 3);
    const dBp = countDiff(bp.data, goldBp.data);
    console.log(`[golden] blueprint ${src.width}×${src.height}: differing bytes gray ${dGray}, threshold ${dThr}, blueprint ${dBp}`);
    // The threshold must be non-trivial for the test to mean something.
    const zeros = thr.data.filter((v) => v === 0).length;
    expect(zeros).toBeGreaterThan(0);
    expect(zeros).toBeLessThan(thr.data.length);
    expect(dGray).toBe(0);
    expect(dThr).toBe(0);
    expect(dBp).toBe(0);
  });
});

/** Straightforward reference: per-pixel loops over clamped coordinates. */
function referenceMean(g: Image, bs: number, kernel?: Float64Array): Uint8Array {
  const r = bs >> 1;
  const out = new Uint8Array(g.width * g.height);
  for (let y = 0; y < g.height; y++) {
    for (let x = 0; x < g.width; x++) {
      let s = 0;
      for (let ky = -r; ky <= r; ky++) {
        for (let kx = -r; kx <= r; kx++) {
          const yy = Math.min(g.height - 1, Math.max(0, y + ky));
          const xx = Math.min(g.width - 1, Math.max(0, x + kx));
          const wgt = kernel ? kernel[ky + r] * kernel[kx + r] : 1;
          s += wgt * g.data[yy * g.width + xx];
        }
      }
      out[y * g.width + x] = kernel ? roundHalfEven(s) : Math.round(s / (bs * bs));
    }
  }
  return out;
}

function randomGray(w: number, h: number, seed: number): Image {
  const img = createImage(w, h, 1);
  let s = seed >>> 0;
  for (let i = 0; i < img.data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    img.data[i] = s >>> 24;
  }
  return img;
}

describe('adaptiveThreshold', () => {
  it('box mean equals the brute-force replicate-border mean for several block sizes', () => {
    const g = randomGray(23, 17, 1);
    for (const bs of [3, 5, 7, 15, 31]) expect(countDiff(boxMean(g, bs).data, referenceMean(g, bs)), `bs ${bs}`).toBe(0);
  });

  it('gaussian mean uses cv2 kernels (fixed tables ≤ 7, sigma formula above) and matches brute force', () => {
    expect(Array.from(getGaussianKernel(5, 0))).toEqual([0.0625, 0.25, 0.375, 0.25, 0.0625]);
    const k11 = getGaussianKernel(11, 0);
    const sigma = 0.3 * (5 - 1) + 0.8;
    expect(k11[5] / k11[4]).toBeCloseTo(Math.exp(1 / (2 * sigma * sigma)), 12);
    const g = randomGray(19, 13, 2);
    for (const bs of [3, 5, 7]) expect(countDiff(gaussianMean(g, bs).data, referenceMean(g, bs, getGaussianKernel(bs, 0))), `bs ${bs}`).toBe(0);
  });

  it('BINARY keeps src−mean > −ceil(C); BINARY_INV is its complement for integer C; maxValue is used', () => {
    const g = randomGray(32, 32, 3);
    const mean = boxMean(g, 7).data;
    const bin = adaptiveThreshold(g, 200, 'ADAPTIVE_THRESH_MEAN_C', 'THRESH_BINARY', 7, 2.5);
    const inv = adaptiveThreshold(g, 200, 'ADAPTIVE_THRESH_MEAN_C', 'THRESH_BINARY_INV', 7, 3);
    for (let i = 0; i < g.data.length; i++) {
      const keep = g.data[i] - mean[i] > -3;
      expect(bin.data[i]).toBe(keep ? 200 : 0);
      expect(inv.data[i]).toBe(keep ? 0 : 200);
    }
    expect(adaptiveThreshold(g, -1, 'ADAPTIVE_THRESH_MEAN_C', 'THRESH_BINARY', 3, 0).data.every((v) => v === 0)).toBe(true);
  });

  it('rejects bad input with clear errors', () => {
    const g = randomGray(8, 8, 4);
    expect(() => adaptiveThreshold(g, 255, 'ADAPTIVE_THRESH_MEAN_C', 'THRESH_BINARY', 4, 0)).toThrow(/blockSize must be an odd integer/);
    expect(() => adaptiveThreshold(g, 255, 'ADAPTIVE_THRESH_MEAN_C', 'THRESH_BINARY', 1, 0)).toThrow(/blockSize/);
    expect(() => adaptiveThreshold(createImage(4, 4, 3), 255, 'ADAPTIVE_THRESH_MEAN_C', 'THRESH_BINARY', 3, 0)).toThrow(/1-channel/);
    expect(() => adaptiveThreshold({ width: 0, height: 0, channels: 1, data: new Uint8Array(0) }, 255, 'ADAPTIVE_THRESH_MEAN_C', 'THRESH_BINARY', 3, 0)).toThrow(/positive integer size/);
    expect(() => adaptiveThreshold({ width: 4, height: 4, channels: 1, data: new Uint8Array(3) }, 255, 'ADAPTIVE_THRESH_MEAN_C', 'THRESH_BINARY', 3, 0)).toThrow(/expected 4×4×1/);
    expect(() => adaptiveThreshold(g, 255, 'nope' as never, 'THRESH_BINARY', 3, 0)).toThrow(/unknown adaptive method/);
  });

  it('info: timing on 2048² (no assertion on speed)', () => {
    const g = randomGray(2048, 2048, 5);
    const t0 = performance.now();
    const out = adaptiveThreshold(g, 255, 'ADAPTIVE_THRESH_MEAN_C', 'THRESH_BINARY', 5, 7);
    const t1 = performance.now();
    adaptiveThreshold(g, 255, 'ADAPTIVE_THRESH_GAUSSIAN_C', 'THRESH_BINARY', 5, 7);
    const t2 = performance.now();
    console.log(`[bench] adaptiveThreshold 2048²: MEAN_C ${(t1 - t0).toFixed(1)} ms, GAUSSIAN_C ${(t2 - t1).toFixed(1)} ms`);
    expect(out.data.length).toBe(2048 * 2048);
  });
});

describe('toGray', () => {
  it('uses cv2 fixed-point weights and ignores alpha', () => {
    const img = createImage(2, 1, 4);
    img.data.set([255, 0, 0, 10, 10, 200, 30, 255]);
    const g = toGray(img);
    expect(g.data[0]).toBe((255 * 4899 + 8192) >> 14);
    expect(g.data[1]).toBe((10 * 4899 + 200 * 9617 + 30 * 1868 + 8192) >> 14);
  });
});
