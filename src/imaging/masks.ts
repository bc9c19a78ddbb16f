// Masks: one float per pixel in [0,1] (1 = selected / repaint), as ComfyUI's MASK type.
// grow/shrink, ComfyUI's inpaint grow, feathering and thresholding.
import { assertImage, createImage, ImageError, type Image } from './image.ts';

export interface Mask {
  readonly width: number;
  readonly height: number;
  /** Row-major, length width·height, values in [0,1]. */
  readonly data: Float32Array;
}

export function createMask(width: number, height: number, fill = 0): Mask {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new ImageError(`invalid mask size ${width}×${height}`);
  }
  return { width, height, data: new Float32Array(width * height).fill(fill) };
}

/** Throws an ImageError unless `m` is a non-empty mask whose buffer matches its size. */
export function assertMask(m: Mask, what: string): void {
  if (!m || !Number.isInteger(m.width) || !Number.isInteger(m.height) || m.width <= 0 || m.height <= 0) {
    throw new ImageError(`${what}: mask must have a positive integer size, got ${m?.width}×${m?.height}`);
  }
  if (!(m.data instanceof Float32Array) || m.data.length !== m.width * m.height) {
    throw new ImageError(`${what}: mask data must be a Float32Array of ${m.width}×${m.height}, got ${m.data?.length}`);
  }
}

export function assertSameSize(a: { width: number; height: number }, b: { width: number; height: number }, what: string): void {
  if (a.width !== b.width || a.height !== b.height) {
    throw new ImageError(`${what}: sizes differ (${a.width}×${a.height} vs ${b.width}×${b.height})`);
  }
}

export type MaskChannel = 'red' | 'green' | 'blue' | 'alpha';

/** ComfyUI ImageToMask: one channel / 255. A missing alpha channel reads as opaque (1). */
export function maskFromImage(img: Image, channel: MaskChannel = 'red'): Mask {
  assertImage(img, 'maskFromImage');
  const m = createMask(img.width, img.height);
  const c = img.channels;
  const idx = { red: 0, green: 1, blue: 2, alpha: 3 }[channel];
  if (idx === undefined) throw new ImageError(`maskFromImage: unknown channel ${channel}`);
  if (channel === 'alpha' && c !== 4) return createMask(img.width, img.height, 1);
  const k = c === 1 ? 0 : idx;
  for (let i = 0; i < m.data.length; i++) m.data[i] = img.data[i * c + k] / 255;
  return m;
}

/** ComfyUI LoadImage's MASK output: 1 − alpha (transparent pixels are the ones to paint). */
export function maskFromAlpha(img: Image): Mask {
  const a = maskFromImage(img, 'alpha');
  for (let i = 0; i < a.data.length; i++) a.data[i] = img.channels === 4 ? 1 - a.data[i] : 0;
  return a;
}

/** Mask → 1-channel image, round(clamp(x)·255). */
export function maskToImage(m: Mask): Image {
  assertMask(m, 'maskToImage');
  const img = createImage(m.width, m.height, 1);
  for (let i = 0; i < m.data.length; i++) img.data[i] = Math.round(Math.min(1, Math.max(0, m.data[i])) * 255);
  return img;
}

export interface GrowOptions {
  /** Grow with a 3×3 cross per step (a diamond overall) instead of the full 3×3 square (ComfyUI GrowMask's tapered_corners). */
  taperedCorners?: boolean;
}

/**
 * ComfyUI GrowMask: `px` repetitions of a 3×3 grey dilation (px < 0: erosion). With square steps the
 * result is exactly a (2|px|+1)² max/min filter, computed in O(1) per pixel (van Herk/Gil-Werman);
 * pixels outside the image are ignored (scipy's reflect border gives the same for max/min).
 */
export function growMask(m: Mask, px: number, opts: GrowOptions = {}): Mask {
  assertMask(m, 'growMask');
  if (!Number.isInteger(px)) throw new ImageError(`growMask: px must be an integer, got ${px}`);
  if (px === 0) return { width: m.width, height: m.height, data: m.data.slice() };
  const dilate = px > 0;
  const r = Math.abs(px);
  if (opts.taperedCorners) {
    let cur: Float32Array = m.data.slice();
    for (let i = 0; i < r; i++) cur = crossStep(cur, m.width, m.height, dilate);
    return { width: m.width, height: m.height, data: cur };
  }
  const rows = new Float32Array(m.data.length);
  const { width: w, height: h } = m;
  const lineIn = new Float32Array(Math.max(w, h));
  const lineOut = new Float32Array(Math.max(w, h));
  for (let y = 0; y < h; y++) {
    lineIn.set(m.data.subarray(y * w, y * w + w));
    extremumFilter1d(lineIn, w, r, dilate, lineOut);
    rows.set(lineOut.subarray(0, w), y * w);
  }
  const out = new Float32Array(m.data.length);
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) lineIn[y] = rows[y * w + x];
    extremumFilter1d(lineIn, h, r, dilate, lineOut);
    for (let y = 0; y < h; y++) out[y * w + x] = lineOut[y];
  }
  return { width: w, height: h, data: out };
}

/**
 * VAEEncodeForInpaint's grow_mask_by, reproduced exactly: round the mask, convolve with ones(g×g) and
 * zero padding p = ceil((g−1)/2), clamp to [0,1], crop to the original size, round. A set pixel spreads
 * g−1−p up/left and p down/right: symmetric (g−1)/2 for odd g, one more down/right for even g (6 → 2 and 3).
 */
export function growMaskForInpaint(m: Mask, growMaskBy: number): Mask {
  assertMask(m, 'growMaskForInpaint');
  if (!Number.isInteger(growMaskBy) || growMaskBy < 0) throw new ImageError(`growMaskForInpaint: grow_mask_by must be an integer ≥ 0, got ${growMaskBy}`);
  if (growMaskBy === 0) return { width: m.width, height: m.height, data: m.data.slice() };
  const { width: w, height: h } = m;
  const pad = Math.ceil((growMaskBy - 1) / 2);
  // out[y][x] = any(round(in)[y − pad + ky][x − pad + kx]) for ky, kx in [0, g).
  const bin = new Uint8Array(w * h);
  for (let i = 0; i < bin.length; i++) bin[i] = roundsToOne(m.data[i]) ? 1 : 0;
  const rows = windowAny(bin, w, h, 1, w, growMaskBy, pad);
  const cols = windowAny(rows, h, w, w, 1, growMaskBy, pad);
  const out = createMask(w, h);
  for (let i = 0; i < cols.length; i++) out.data[i] = cols[i];
  return out;
}

export type FeatherKind = 'gaussian' | 'linear';

/**
 * Softens mask edges over about `radius` pixels on each side of the edge. 'linear': a (2r+1)² box
 * filter, which turns a hard edge into an exact linear ramp of width 2r+1. 'gaussian': a Gaussian blur
 * with σ = r/2 (kernel cut at 3σ). Borders replicate the edge pixel, so a mask touching the image edge
 * does not fade there.
 */
export function featherMask(m: Mask, radius: number, kind: FeatherKind = 'gaussian'): Mask {
  assertMask(m, 'featherMask');
  if (!Number.isFinite(radius) || radius < 0) throw new ImageError(`featherMask: radius must be ≥ 0, got ${radius}`);
  if (radius === 0) return { width: m.width, height: m.height, data: m.data.slice() };
  let kernel: Float64Array;
  if (kind === 'linear') {
    const r = Math.round(radius);
    kernel = new Float64Array(2 * r + 1).fill(1 / (2 * r + 1));
  } else if (kind === 'gaussian') {
    const sigma = radius / 2;
    const r = Math.max(1, Math.ceil(3 * sigma));
    kernel = new Float64Array(2 * r + 1);
    let sum = 0;
    for (let i = -r; i <= r; i++) sum += kernel[i + r] = Math.exp((-i * i) / (2 * sigma * sigma));
    for (let i = 0; i < kernel.length; i++) kernel[i] /= sum;
  } else throw new ImageError(`featherMask: unknown kind ${kind}`);
  const data = separableBlur(m.data, m.width, m.height, kernel);
  for (let i = 0; i < data.length; i++) data[i] = Math.min(1, Math.max(0, data[i]));
  return { width: m.width, height: m.height, data };
}

/** ComfyUI ThresholdMask: 1 where value > threshold, else 0. */
export function thresholdMask(m: Mask, threshold: number): Mask {
  assertMask(m, 'thresholdMask');
  if (!Number.isFinite(threshold)) throw new ImageError(`thresholdMask: threshold must be finite`);
  const out = createMask(m.width, m.height);
  for (let i = 0; i < m.data.length; i++) out.data[i] = m.data[i] > threshold ? 1 : 0;
  return out;
}

/** Running max (dilate) or min over a window of 2r+1 with out-of-range ignored, O(1) per sample. */
function extremumFilter1d(src: Float32Array, n: number, r: number, isMax: boolean, dst: Float32Array): void {
  const k = 2 * r + 1;
  const padVal = isMax ? -Infinity : Infinity;
  const len = n + 2 * r;
  const total = Math.ceil(len / k) * k;
  const g = new Float32Array(total);
  const hh = new Float32Array(total);
  const at = (i: number) => (i >= r && i < r + n ? src[i - r] : padVal);
  const pick = isMax ? Math.max : Math.min;
  for (let b = 0; b < total; b += k) {
    g[b] = at(b);
    for (let i = 1; i < k; i++) g[b + i] = pick(g[b + i - 1], at(b + i));
    hh[b + k - 1] = at(b + k - 1);
    for (let i = k - 2; i >= 0; i--) hh[b + i] = pick(hh[b + i + 1], at(b + i));
  }
  for (let i = 0; i < n; i++) dst[i] = pick(hh[i], g[i + k - 1]);
}

function crossStep(src: Float32Array, w: number, h: number, isMax: boolean): Float32Array {
  const out = new Float32Array(src.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      let v = src[i];
      const nb = [x > 0 ? src[i - 1] : v, x < w - 1 ? src[i + 1] : v, y > 0 ? src[i - w] : v, y < h - 1 ? src[i + w] : v];
      for (const u of nb) v = isMax ? (u > v ? u : v) : u < v ? u : v;
      out[i] = v;
    }
  }
  return out;
}

function separableBlur(src: Float32Array, w: number, h: number, kernel: Float64Array): Float32Array {
  const r = kernel.length >> 1;
  const tmp = new Float32Array(src.length);
  for (let y = 0; y < h; y++) {
    const o = y * w;
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = -r; k <= r; k++) s += kernel[k + r] * src[o + Math.min(w - 1, Math.max(0, x + k))];
      tmp[o + x] = s;
    }
  }
  const out = new Float32Array(src.length);
  for (let y = 0; y < h; y++) {
    for (let k = -r; k <= r; k++) {
      const so = Math.min(h - 1, Math.max(0, y + k)) * w;
      const wk = kernel[k + r];
      const o = y * w;
      for (let x = 0; x < w; x++) out[o + x] += wk * tmp[so + x];
    }
  }
  return out;
}

/** torch.round(v) ≥ 1 (round half to even, so exactly 0.5 → 0). */
function roundsToOne(v: number): boolean {
  return v > 0.5;
}

/**
 * For each of `lines` lines of length n (element i of line l at l·lineStride + i·step): 1 if any of
 * the g samples starting at i − pad is 1, out-of-range samples being 0. Sliding count, O(1) per sample.
 */
function windowAny(src: Uint8Array, n: number, lines: number, step: number, lineStride: number, g: number, pad: number): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let l = 0; l < lines; l++) {
    const base = l * lineStride;
    let count = 0;
    // Window for i = 0 covers [−pad, g − 1 − pad].
    for (let j = -pad; j < g - pad; j++) if (j >= 0 && j < n) count += src[base + j * step];
    for (let i = 0; i < n; i++) {
      if (i > 0) {
        const enter = i + g - 1 - pad;
        const leave = i - 1 - pad;
        if (enter >= 0 && enter < n) count += src[base + enter * step];
        if (leave >= 0 && leave < n) count -= src[base + leave * step];
      }
      out[base + i * step] = count > 0 ? 1 : 0;
    }
  }
  return out;
}
