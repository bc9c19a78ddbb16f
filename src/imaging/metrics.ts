// Image-quality and colourisation metrics.
//
// PSNR: 10·log10(peak² / MSE) over all samples (peak 255); identical images give +Infinity.
// SSIM: Wang et al. 2004 as in their reference code: 11×11 Gaussian window σ = 1.5 (normalised),
//   K1 = 0.01, K2 = 0.03, L = 255, statistics over 'valid' window positions only (no padding), SSIM =
//   mean of the map. Computed on BT.601 luma (0.299R + 0.587G + 0.114B, float; the default) or per RGB
//   channel and averaged.
// MS-SSIM: Wang et al. 2003, 5 scales, weights [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]; between scales
//   a 2×2 average and subsample; contrast·structure at scales 1–4, full SSIM at scale 5. Negative
//   per-scale values are clamped to 0 before the fractional powers (as pytorch-msssim does), so the
//   result is defined. Needs both sides ≥ 176 px (11 px at the 5th scale).
// Colourisation accuracy, after BasicPBC (ykdai/BasicPBC, paint/utils.py eval_json): regions come from
//   the line art (label 0 = line pixels, ignored; labels 1…N = regions). A region's colour is the
//   majority RGB inside it (or the mean, rounded). segmentAccuracy = correct regions / regions
//   (BasicPBC "acc"); segmentAccuracyThresholded counts only regions larger than minRegionPixels
//   (BasicPBC "acc_thres", 10); regionPixelAccuracy weights each region by its size (BasicPBC
//   "pix_acc"); pixelAccuracy = non-line pixels whose predicted RGB equals ground truth, pixel by pixel.
//   "Equal" means every channel within `tolerance` (default 0 = exact). Alpha is ignored.
import { assertImage, ImageError, type Image } from './image.ts';

function assertPair(a: Image, b: Image, what: string): void {
  assertImage(a, what);
  assertImage(b, what);
  if (a.width !== b.width || a.height !== b.height) throw new ImageError(`${what}: sizes differ (${a.width}×${a.height} vs ${b.width}×${b.height})`);
  if (a.channels !== b.channels) throw new ImageError(`${what}: channel counts differ (${a.channels} vs ${b.channels})`);
}

export function mse(a: Image, b: Image): number {
  assertPair(a, b, 'mse');
  let s = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = a.data[i] - b.data[i];
    s += d * d;
  }
  return s / a.data.length;
}

/** PSNR in dB; +Infinity for identical images. */
export function psnr(a: Image, b: Image, peak = 255): number {
  const m = mse(a, b);
  return m === 0 ? Infinity : 10 * Math.log10((peak * peak) / m);
}

export type SsimChannels = 'luma' | 'rgb';

export interface SsimOptions {
  /** 'luma' (default): one BT.601 luma plane; 'rgb': each colour channel, averaged. */
  channels?: SsimChannels;
}

const WIN = 11;
const K1 = 0.01;
const K2 = 0.03;
const L = 255;
const C1 = (K1 * L) ** 2;
const C2 = (K2 * L) ** 2;
const MS_WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];

export function ssim(a: Image, b: Image, opts: SsimOptions = {}): number {
  assertPair(a, b, 'ssim');
  if (a.width < WIN || a.height < WIN) throw new ImageError(`ssim: images must be at least ${WIN}×${WIN}, got ${a.width}×${a.height}`);
  const planes = toPlanes(a, b, opts.channels ?? 'luma');
  let total = 0;
  for (const [pa, pb] of planes) total += ssimPlane(pa, pb, a.width, a.height).ssim;
  return total / planes.length;
}

export function msSsim(a: Image, b: Image, opts: SsimOptions = {}): number {
  assertPair(a, b, 'msSsim');
  const minSide = WIN * 2 ** (MS_WEIGHTS.length - 1);
  if (a.width < minSide || a.height < minSide) throw new ImageError(`msSsim: images must be at least ${minSide}×${minSide} for 5 scales, got ${a.width}×${a.height}`);
  const planes = toPlanes(a, b, opts.channels ?? 'luma');
  let total = 0;
  for (const [pa0, pb0] of planes) {
    let pa = pa0;
    let pb = pb0;
    let w = a.width;
    let h = a.height;
    let value = 1;
    for (let s = 0; s < MS_WEIGHTS.length; s++) {
      const r = ssimPlane(pa, pb, w, h);
      const term = s === MS_WEIGHTS.length - 1 ? r.ssim : r.cs;
      value *= Math.max(0, term) ** MS_WEIGHTS[s];
      if (s < MS_WEIGHTS.length - 1) {
        const [na, nw, nh] = halve(pa, w, h);
        pb = halve(pb, w, h)[0];
        pa = na;
        w = nw;
        h = nh;
      }
    }
    total += value;
  }
  return total / planes.length;
}

export interface RegionLabels {
  readonly width: number;
  readonly height: number;
  /** One label per pixel: 0 = line (ignored), 1…N = paint regions. */
  readonly labels: Int32Array;
}

export interface ColourAccuracyOptions {
  /** Largest per-channel difference still counted as equal (default 0: exact). */
  tolerance?: number;
  /** How a region's colour is taken (default 'majority'). */
  regionColour?: 'majority' | 'mean';
  /** Regions with ≤ this many pixels are left out of segmentAccuracyThresholded (default 10). */
  minRegionPixels?: number;
}

export interface ColourAccuracy {
  segmentAccuracy: number;
  segmentAccuracyThresholded: number;
  regionPixelAccuracy: number;
  pixelAccuracy: number;
  regions: number;
  correctRegions: number;
}

/** Segment and pixel accuracy of a colourisation against ground truth; see the file comment. */
export function colourisationAccuracy(gt: Image, pred: Image, regions: RegionLabels, opts: ColourAccuracyOptions = {}): ColourAccuracy {
  assertImage(gt, 'colourisationAccuracy');
  assertImage(pred, 'colourisationAccuracy');
  if (gt.width !== pred.width || gt.height !== pred.height) throw new ImageError(`colourisationAccuracy: sizes differ (${gt.width}×${gt.height} vs ${pred.width}×${pred.height})`);
  if (!regions || regions.width !== gt.width || regions.height !== gt.height || !(regions.labels instanceof Int32Array) || regions.labels.length !== gt.width * gt.height) {
    throw new ImageError(`colourisationAccuracy: region labels must be an Int32Array of ${gt.width}×${gt.height}`);
  }
  const tol = opts.tolerance ?? 0;
  const minPx = opts.minRegionPixels ?? 10;
  const mode = opts.regionColour ?? 'majority';
  if (!(tol >= 0)) throw new ImageError(`colourisationAccuracy: tolerance must be ≥ 0`);
  const n = gt.width * gt.height;
  const lab = regions.labels;
  let maxLabel = 0;
  for (let i = 0; i < n; i++) {
    if (lab[i] < 0) throw new ImageError(`colourisationAccuracy: negative region label ${lab[i]} at pixel ${i}`);
    if (lab[i] > maxLabel) maxLabel = lab[i];
  }
  const gtRgb = rgbKeys(gt);
  const prRgb = rgbKeys(pred);
  const equal = (x: number, y: number) => {
    if (tol === 0) return x === y;
    return Math.abs((x >> 16) - (y >> 16)) <= tol && Math.abs(((x >> 8) & 255) - ((y >> 8) & 255)) <= tol && Math.abs((x & 255) - (y & 255)) <= tol;
  };
  const sizes = new Float64Array(maxLabel + 1);
  let pixelsOk = 0;
  let pixelsAll = 0;
  for (let i = 0; i < n; i++) {
    const l = lab[i];
    if (l === 0) continue;
    sizes[l]++;
    pixelsAll++;
    if (equal(gtRgb[i], prRgb[i])) pixelsOk++;
  }
  const gtCol = regionColours(gtRgb, lab, maxLabel, mode);
  const prCol = regionColours(prRgb, lab, maxLabel, mode);
  let count = 0, ok = 0, countT = 0, okT = 0, px = 0, pxOk = 0;
  for (let l = 1; l <= maxLabel; l++) {
    if (sizes[l] === 0) continue;
    const good = equal(gtCol[l], prCol[l]);
    count++;
    px += sizes[l];
    if (good) {
      ok++;
      pxOk += sizes[l];
    }
    if (sizes[l] > minPx) {
      countT++;
      if (good) okT++;
    }
  }
  if (count === 0) throw new ImageError('colourisationAccuracy: no regions (every pixel is labelled 0 = line)');
  return {
    segmentAccuracy: ok / count,
    segmentAccuracyThresholded: countT ? okT / countT : 1,
    regionPixelAccuracy: pxOk / px,
    pixelAccuracy: pixelsOk / pixelsAll,
    regions: count,
    correctRegions: ok,
  };
}

function rgbKeys(img: Image): Int32Array {
  const n = img.width * img.height;
  const c = img.channels;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const r = img.data[i * c];
    const g = c === 1 ? r : img.data[i * c + 1];
    const b = c === 1 ? r : img.data[i * c + 2];
    out[i] = (r << 16) | (g << 8) | b;
  }
  return out;
}

function regionColours(rgb: Int32Array, lab: Int32Array, maxLabel: number, mode: 'majority' | 'mean'): Int32Array {
  const out = new Int32Array(maxLabel + 1);
  if (mode === 'mean') {
    const sum = new Float64Array((maxLabel + 1) * 4);
    for (let i = 0; i < rgb.length; i++) {
      const l = lab[i];
      if (l === 0) continue;
      sum[l * 4] += rgb[i] >> 16;
      sum[l * 4 + 1] += (rgb[i] >> 8) & 255;
      sum[l * 4 + 2] += rgb[i] & 255;
      sum[l * 4 + 3]++;
    }
    for (let l = 1; l <= maxLabel; l++) {
      const k = sum[l * 4 + 3];
      if (k) out[l] = (Math.round(sum[l * 4] / k) << 16) | (Math.round(sum[l * 4 + 1] / k) << 8) | Math.round(sum[l * 4 + 2] / k);
    }
    return out;
  }
  if (mode !== 'majority') throw new ImageError(`colourisationAccuracy: unknown regionColour ${mode}`);
  // Count (label, colour) pairs; key = label·2²⁴ + rgb stays an exact double for any realistic label count.
  const counts = new Map<number, number>();
  for (let i = 0; i < rgb.length; i++) {
    const l = lab[i];
    if (l === 0) continue;
    const key = l * 16777216 + rgb[i];
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const best = new Float64Array(maxLabel + 1);
  for (const [key, c] of counts) {
    const l = Math.floor(key / 16777216);
    const col = key - l * 16777216;
    // Ties go to the smaller colour value, so the result does not depend on pixel order.
    if (c > best[l] || (c === best[l] && col < out[l])) {
      best[l] = c;
      out[l] = col;
    }
  }
  return out;
}

function toPlanes(a: Image, b: Image, channels: SsimChannels): [Float64Array, Float64Array][] {
  const n = a.width * a.height;
  const c = a.channels;
  if (channels === 'luma' || c === 1) {
    const luma = (img: Image) => {
      const p = new Float64Array(n);
      if (c === 1) for (let i = 0; i < n; i++) p[i] = img.data[i];
      else for (let i = 0; i < n; i++) p[i] = 0.299 * img.data[i * c] + 0.587 * img.data[i * c + 1] + 0.114 * img.data[i * c + 2];
      return p;
    };
    if (channels !== 'luma' && channels !== 'rgb') throw new ImageError(`ssim: unknown channels option ${channels}`);
    return [[luma(a), luma(b)]];
  }
  if (channels !== 'rgb') throw new ImageError(`ssim: unknown channels option ${channels}`);
  const planes: [Float64Array, Float64Array][] = [];
  for (let k = 0; k < 3; k++) {
    const pa = new Float64Array(n);
    const pb = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      pa[i] = a.data[i * c + k];
      pb[i] = b.data[i * c + k];
    }
    planes.push([pa, pb]);
  }
  return planes;
}

let windowCache: Float64Array | undefined;
function gaussianWindow(): Float64Array {
  if (!windowCache) {
    windowCache = new Float64Array(WIN);
    let s = 0;
    for (let i = 0; i < WIN; i++) s += windowCache[i] = Math.exp(-((i - 5) ** 2) / (2 * 1.5 * 1.5));
    for (let i = 0; i < WIN; i++) windowCache[i] /= s;
  }
  return windowCache;
}

/**
 * SSIM and mean contrast-structure of one plane pair. The five Gaussian-weighted moments (μa, μb,
 * E[a²], E[b²], E[ab]) are filtered together, separably, keeping only 'valid' positions.
 */
function ssimPlane(a: Float64Array, b: Float64Array, w: number, h: number): { ssim: number; cs: number } {
  const g = gaussianWindow();
  const ow = w - WIN + 1;
  const oh = h - WIN + 1;
  // Horizontal pass: 5 moments per (row, valid column).
  const tmp = new Float64Array(ow * h * 5);
  for (let y = 0; y < h; y++) {
    const o = y * w;
    for (let x = 0; x < ow; x++) {
      let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
      for (let k = 0; k < WIN; k++) {
        const gk = g[k];
        const va = a[o + x + k];
        const vb = b[o + x + k];
        sa += gk * va;
        sb += gk * vb;
        saa += gk * va * va;
        sbb += gk * vb * vb;
        sab += gk * va * vb;
      }
      const t = (y * ow + x) * 5;
      tmp[t] = sa;
      tmp[t + 1] = sb;
      tmp[t + 2] = saa;
      tmp[t + 3] = sbb;
      tmp[t + 4] = sab;
    }
  }
  let sumS = 0;
  let sumCs = 0;
  const acc = new Float64Array(ow * 5);
  for (let y = 0; y < oh; y++) {
    acc.fill(0);
    for (let k = 0; k < WIN; k++) {
      const gk = g[k];
      const o = (y + k) * ow * 5;
      for (let i = 0; i < ow * 5; i++) acc[i] += gk * tmp[o + i];
    }
    for (let x = 0; x < ow; x++) {
      const m1 = acc[x * 5], m2 = acc[x * 5 + 1];
      const v1 = acc[x * 5 + 2] - m1 * m1;
      const v2 = acc[x * 5 + 3] - m2 * m2;
      const cov = acc[x * 5 + 4] - m1 * m2;
      const cs = (2 * cov + C2) / (v1 + v2 + C2);
      sumCs += cs;
      sumS += ((2 * m1 * m2 + C1) / (m1 * m1 + m2 * m2 + C1)) * cs;
    }
  }
  const count = ow * oh;
  return { ssim: sumS / count, cs: sumCs / count };
}

/** 2×2 average then subsample (odd trailing row/column dropped). */
function halve(src: Float64Array, w: number, h: number): [Float64Array, number, number] {
  const ow = w >> 1;
  const oh = h >> 1;
  const out = new Float64Array(ow * oh);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const i = 2 * y * w + 2 * x;
      out[y * ow + x] = (src[i] + src[i + 1] + src[i + w] + src[i + w + 1]) / 4;
    }
  }
  return [out, ow, oh];
}
