// OpenCV-exact adaptiveThreshold (cv2 4.x, 8-bit single channel, BORDER_REPLICATE).
//
// MEAN_C: the local mean is boxFilter(…, normalize) into uint8. cv2 divides with a fixed-point
// reciprocal for areas ≤ 256 (((s + d/2+1) · ⌊2²³/d⌋) >> 23) and with cvRound(s/d) above; for every odd
// block size both equal round(s/area) (checked exhaustively for 3…15; an odd area never produces a .5 tie),
// so we use the exact integer rounding. Result: bit-exact with cv2 for any odd blockSize.
// GAUSSIAN_C: cv2 blurs a float32 copy with GaussianBlur(ksize=blockSize, sigma=0) and converts back with
// cvRound (ties to even). For blockSize 3/5/7 cv2's kernel is a dyadic table, so every sum is exact and we
// are bit-exact; for larger blocks the weights are not dyadic and float32 summation order can move a value
// across a .5 boundary, so a rare pixel may differ by one grey level in the mean.
// The comparison is cv2's lookup table: BINARY keeps src − mean > −ceil(C); BINARY_INV keeps
// src − mean ≤ −floor(C).
import { assertImage, createImage, ImageError, type Image } from './image.ts';

export type AdaptiveMethod = 'ADAPTIVE_THRESH_MEAN_C' | 'ADAPTIVE_THRESH_GAUSSIAN_C';
export type ThresholdType = 'THRESH_BINARY' | 'THRESH_BINARY_INV';

/** cv2.adaptiveThreshold(src, maxValue, adaptiveMethod, thresholdType, blockSize, C) on a 1-channel image. */
export function adaptiveThreshold(src: Image, maxValue: number, method: AdaptiveMethod, type: ThresholdType, blockSize: number, C: number): Image {
  assertImage(src, 'adaptiveThreshold');
  if (src.channels !== 1) throw new ImageError(`adaptiveThreshold: needs a 1-channel image, got ${src.channels} channels (use toGray first)`);
  checkBlockSize(blockSize, 'adaptiveThreshold');
  if (!Number.isFinite(maxValue) || !Number.isFinite(C)) throw new ImageError(`adaptiveThreshold: maxValue and C must be finite numbers`);
  if (type !== 'THRESH_BINARY' && type !== 'THRESH_BINARY_INV') throw new ImageError(`adaptiveThreshold: unknown threshold type ${type}`);
  const out = createImage(src.width, src.height, 1);
  if (maxValue < 0) return out; // cv2 returns all zeros

  let mean: Uint8Array;
  if (method === 'ADAPTIVE_THRESH_MEAN_C') mean = boxMean(src, blockSize).data;
  else if (method === 'ADAPTIVE_THRESH_GAUSSIAN_C') mean = gaussianMean(src, blockSize).data;
  else throw new ImageError(`adaptiveThreshold: unknown adaptive method ${method}`);

  const imax = Math.min(255, roundHalfEven(maxValue));
  const tab = new Uint8Array(768);
  if (type === 'THRESH_BINARY') {
    const idelta = Math.ceil(C);
    for (let i = 0; i < 768; i++) tab[i] = i - 255 > -idelta ? imax : 0;
  } else {
    const idelta = Math.floor(C);
    for (let i = 0; i < 768; i++) tab[i] = i - 255 <= -idelta ? imax : 0;
  }
  const s = src.data;
  const d = out.data;
  for (let i = 0; i < s.length; i++) d[i] = tab[s[i] - mean[i] + 255];
  return out;
}

/** Local box mean over blockSize² with replicated borders, rounded to uint8 (cv2.boxFilter, normalize). */
export function boxMean(src: Image, blockSize: number): Image {
  assertImage(src, 'boxMean');
  if (src.channels !== 1) throw new ImageError(`boxMean: needs a 1-channel image, got ${src.channels} channels`);
  checkBlockSize(blockSize, 'boxMean');
  const { width: w, height: h } = src;
  const sums = boxSumReplicate(src.data, w, h, blockSize >> 1);
  const area = blockSize * blockSize;
  const out = createImage(w, h, 1);
  const d = out.data;
  // round(s / area) without floating point: floor((2s + area) / (2·area)); no ties for odd area.
  const twoArea = 2 * area;
  for (let i = 0; i < d.length; i++) d[i] = Math.floor((2 * sums[i] + area) / twoArea);
  return out;
}

/**
 * Sum over the (2r+1)² window with BORDER_REPLICATE, as two sliding-window passes (cost independent
 * of r). Float64 holds exact integers up to 2⁵³, far above 255·(2r+1)² for any image we accept.
 */
export function boxSumReplicate(src: ArrayLike<number>, w: number, h: number, r: number): Float64Array {
  const rows = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    const o = y * w;
    let s = 0;
    for (let k = -r; k <= r; k++) s += src[o + clamp(k, w)];
    rows[o] = s;
    for (let x = 1; x < w; x++) {
      s += src[o + clamp(x + r, w)] - src[o + clamp(x - r - 1, w)];
      rows[o + x] = s;
    }
  }
  const out = new Float64Array(w * h);
  const col = new Float64Array(w);
  for (let k = -r; k <= r; k++) {
    const o = clamp(k, h) * w;
    for (let x = 0; x < w; x++) col[x] += rows[o + x];
  }
  out.set(col, 0);
  for (let y = 1; y < h; y++) {
    const add = clamp(y + r, h) * w;
    const sub = clamp(y - r - 1, h) * w;
    const o = y * w;
    for (let x = 0; x < w; x++) {
      col[x] += rows[add + x] - rows[sub + x];
      out[o + x] = col[x];
    }
  }
  return out;
}

/** Gaussian local mean as cv2's GAUSSIAN_C computes it: float blur (sigma from blockSize), cvRound to uint8. */
export function gaussianMean(src: Image, blockSize: number): Image {
  assertImage(src, 'gaussianMean');
  if (src.channels !== 1) throw new ImageError(`gaussianMean: needs a 1-channel image, got ${src.channels} channels`);
  checkBlockSize(blockSize, 'gaussianMean');
  const blurred = gaussianBlurReplicate(src.data, src.width, src.height, getGaussianKernel(blockSize, 0));
  const out = createImage(src.width, src.height, 1);
  for (let i = 0; i < blurred.length; i++) out.data[i] = Math.max(0, Math.min(255, roundHalfEven(blurred[i])));
  return out;
}

// cv2's getGaussianKernel uses these fixed tables when sigma ≤ 0 and ksize ≤ 7.
const SMALL_GAUSSIAN: Record<number, number[]> = {
  1: [1],
  3: [0.25, 0.5, 0.25],
  5: [0.0625, 0.25, 0.375, 0.25, 0.0625],
  7: [0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125],
};

/** cv2.getGaussianKernel(ksize, sigma): sigma ≤ 0 → 0.3·((ksize−1)/2 − 1) + 0.8 (or the fixed table). */
export function getGaussianKernel(ksize: number, sigma: number): Float64Array {
  if (!Number.isInteger(ksize) || ksize < 1 || ksize % 2 === 0) throw new ImageError(`getGaussianKernel: ksize must be a positive odd integer, got ${ksize}`);
  if (sigma <= 0 && SMALL_GAUSSIAN[ksize]) return Float64Array.from(SMALL_GAUSSIAN[ksize]);
  const s = sigma > 0 ? sigma : 0.3 * ((ksize - 1) * 0.5 - 1) + 0.8;
  const k = new Float64Array(ksize);
  const scale2X = -0.5 / (s * s);
  let sum = 0;
  for (let i = 0; i < ksize; i++) {
    const x = i - (ksize - 1) * 0.5;
    k[i] = Math.exp(scale2X * x * x);
    sum += k[i];
  }
  for (let i = 0; i < ksize; i++) k[i] /= sum;
  return k;
}

/** Separable convolution with an odd, centred kernel and replicated borders; float64 result. */
export function gaussianBlurReplicate(src: ArrayLike<number>, w: number, h: number, kernel: ArrayLike<number>): Float64Array {
  const r = kernel.length >> 1;
  const rows = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    const o = y * w;
    for (let x = 0; x < w; x++) {
      let s = 0;
      if (x >= r && x + r < w) for (let k = 0; k < kernel.length; k++) s += kernel[k] * src[o + x + k - r];
      else for (let k = 0; k < kernel.length; k++) s += kernel[k] * src[o + clamp(x + k - r, w)];
      rows[o + x] = s;
    }
  }
  const out = new Float64Array(w * h);
  for (let k = 0; k < kernel.length; k++) {
    const wk = kernel[k];
    for (let y = 0; y < h; y++) {
      const so = clamp(y + k - r, h) * w;
      const o = y * w;
      for (let x = 0; x < w; x++) out[o + x] += wk * rows[so + x];
    }
  }
  return out;
}

/** cvRound: round to nearest, ties to even (lrint in the default rounding mode). */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function clamp(i: number, n: number): number {
  return i < 0 ? 0 : i >= n ? n - 1 : i;
}

function checkBlockSize(blockSize: number, what: string): void {
  if (!Number.isInteger(blockSize) || blockSize < 3 || blockSize % 2 === 0) {
    throw new ImageError(`${what}: blockSize must be an odd integer ≥ 3, got ${blockSize}`);
  }
}
