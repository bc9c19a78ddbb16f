// Line art preparation. inkflow's convention for line art handed to models is WHITE LINES ON BLACK
// (the SDRO "blueprint"): prepareLineArt turns any drawing into that, blueprintFromColour reproduces the
// SDRO training recipe bit-exactly, and xdogLines / canny extract lines from photos and paintings
// without a model.
import { assertImage, createImage, ImageError, type Image } from './image.ts';
import { toGray } from './grayscale.ts';
import { adaptiveThreshold, gaussianBlurReplicate, getGaussianKernel, roundHalfEven } from './threshold.ts';

/**
 * SDRO blueprint from a colour image: gray → adaptiveThreshold(255, MEAN_C, BINARY, 5, 7) → 255 − x,
 * replicated to 3 channels (white lines on black). Bit-exact with the cv2 4.6 recipe.
 */
export function blueprintFromColour(img: Image): Image {
  assertImage(img, 'blueprintFromColour');
  const thr = adaptiveThreshold(toGray(flattenAlpha(img)), 255, 'ADAPTIVE_THRESH_MEAN_C', 'THRESH_BINARY', 5, 7);
  const out = createImage(img.width, img.height, 3);
  const t = thr.data;
  const d = out.data;
  for (let i = 0, j = 0; i < t.length; i++, j += 3) d[j] = d[j + 1] = d[j + 2] = 255 - t[i];
  return out;
}

/** 255 − x on the colour channels; alpha, if present, is kept. */
export function invert(img: Image): Image {
  assertImage(img, 'invert');
  const out = createImage(img.width, img.height, img.channels);
  const s = img.data;
  const d = out.data;
  if (img.channels === 4) {
    for (let i = 0; i < s.length; i += 4) {
      d[i] = 255 - s[i];
      d[i + 1] = 255 - s[i + 1];
      d[i + 2] = 255 - s[i + 2];
      d[i + 3] = s[i + 3];
    }
  } else {
    for (let i = 0; i < s.length; i++) d[i] = 255 - s[i];
  }
  return out;
}

export type LinePolarity = 'dark-on-light' | 'light-on-dark';

/**
 * Whether a drawing has dark lines on a light ground (the usual scan) or light lines on dark.
 * Lines are sparse, so the median grey is the ground; when the median is ambiguous (96…160) the
 * median of the 1-pixel border decides. Transparent pixels count as white paper.
 */
export function detectLinePolarity(img: Image): LinePolarity {
  assertImage(img, 'detectLinePolarity');
  const g = toGray(flattenAlpha(img));
  let ground = medianOf(g.data);
  if (ground >= 96 && ground <= 160) ground = medianOf(borderPixels(g));
  return ground >= 128 ? 'dark-on-light' : 'light-on-dark';
}

export interface PrepareLineArtOptions {
  /** Output channels; 3 (default) is what the SDRO blueprint input takes. */
  channels?: 1 | 3;
}

/** Any line drawing → white lines on black (grey levels kept, so anti-aliasing survives). */
export function prepareLineArt(img: Image, opts: PrepareLineArtOptions = {}): Image {
  assertImage(img, 'prepareLineArt');
  let g = toGray(flattenAlpha(img));
  if (detectLinePolarity(img) === 'dark-on-light') g = invert(g);
  return opts.channels === 1 ? g : greyToRgb(g);
}

export interface XdogOptions {
  /** Blur of the fine Gaussian, in pixels (default 0.8). Larger → thicker, fewer lines. */
  sigma?: number;
  /** Ratio of the coarse to the fine Gaussian (default 1.6, the classic DoG ratio). */
  k?: number;
  /** Weight of the coarse Gaussian (default 0.98); D = G_σ − τ·G_kσ on grey in [0,1]. */
  tau?: number;
  /** Edge threshold on D (default 0). */
  epsilon?: number;
  /** Sharpness of the tanh ramp below epsilon (default 200). */
  phi?: number;
  /** Threshold the result at 50% to pure black/white (default false). */
  binarize?: boolean;
}

/**
 * XDoG line extraction (Winnemöller et al. 2012): D = G_σ(I) − τ·G_kσ(I),
 * E = 1 if D ≥ ε else 1 + tanh(φ(D − ε)). Returned as lines = 255·(1 − E): white lines on black, 1 channel.
 */
export function xdogLines(img: Image, opts: XdogOptions = {}): Image {
  assertImage(img, 'xdogLines');
  const sigma = opts.sigma ?? 0.8;
  const k = opts.k ?? 1.6;
  const tau = opts.tau ?? 0.98;
  const eps = opts.epsilon ?? 0;
  const phi = opts.phi ?? 200;
  if (!(sigma > 0) || !(k > 0) || !Number.isFinite(tau) || !Number.isFinite(eps) || !(phi > 0)) {
    throw new ImageError(`xdogLines: need sigma > 0, k > 0, phi > 0 and finite tau/epsilon`);
  }
  const g = toGray(flattenAlpha(img));
  const { width: w, height: h } = g;
  const unit = new Float64Array(g.data.length);
  for (let i = 0; i < unit.length; i++) unit[i] = g.data[i] / 255;
  const g1 = gaussianBlurReplicate(unit, w, h, gaussianKernelForSigma(sigma));
  const g2 = gaussianBlurReplicate(unit, w, h, gaussianKernelForSigma(sigma * k));
  const out = createImage(w, h, 1);
  for (let i = 0; i < unit.length; i++) {
    const d = g1[i] - tau * g2[i];
    const e = d >= eps ? 1 : 1 + Math.tanh(phi * (d - eps));
    let line = 1 - e;
    if (opts.binarize) line = line >= 0.5 ? 1 : 0;
    out.data[i] = Math.round(Math.min(1, Math.max(0, line)) * 255);
  }
  return out;
}

export interface CannyOptions {
  /** Gaussian pre-blur kernel size (odd; 0 = none, which is what cv2.Canny and ControlNet's annotator do). */
  blurSize?: number;
  /** Sigma of the pre-blur; ≤ 0 takes cv2's default for the kernel size. */
  blurSigma?: number;
  /** Use sqrt(dx² + dy²) instead of |dx| + |dy| (cv2's L2gradient). */
  l2gradient?: boolean;
}

// tan(22.5°) in Q15, as cv2's Canny uses to sort gradient directions without division.
const CANNY_SHIFT = 15;
const TG22 = Math.floor(0.4142135623730950488 * (1 << CANNY_SHIFT) + 0.5);

/**
 * Canny edges, following cv2.Canny(gray, low, high, apertureSize=3): 3×3 Sobel (replicated border),
 * L1 (default) or L2 magnitude, non-maximum suppression in four directions, double threshold
 * (candidate m > low, seed m > high) and 8-connected hysteresis. low/high are in cv2's units
 * (e.g. 100/200). Output: 1 channel, 255 on edges.
 */
export function canny(img: Image, low: number, high: number, opts: CannyOptions = {}): Image {
  assertImage(img, 'canny');
  if (!Number.isFinite(low) || !Number.isFinite(high) || low < 0 || high < 0) throw new ImageError(`canny: thresholds must be finite and ≥ 0, got ${low}, ${high}`);
  if (low > high) [low, high] = [high, low];
  let gray = toGray(flattenAlpha(img));
  const { width: w, height: h } = gray;
  const blurSize = opts.blurSize ?? 0;
  if (blurSize > 0) {
    if (!Number.isInteger(blurSize) || blurSize % 2 === 0) throw new ImageError(`canny: blurSize must be an odd integer, got ${blurSize}`);
    const b = gaussianBlurReplicate(gray.data, w, h, getGaussianKernel(blurSize, opts.blurSigma ?? 0));
    const blurred = createImage(w, h, 1);
    for (let i = 0; i < b.length; i++) blurred.data[i] = Math.min(255, roundHalfEven(b[i]));
    gray = blurred;
  }
  const l2 = opts.l2gradient ?? false;
  if (l2) {
    low = Math.min(32767, low);
    high = Math.min(32767, high);
    low *= low;
    high *= high;
  }
  const lo = Math.floor(low);
  const hi = Math.floor(high);

  // Sobel 3×3 with BORDER_REPLICATE.
  const s = gray.data;
  const dx = new Int32Array(w * h);
  const dy = new Int32Array(w * h);
  for (let y = 0; y < h; y++) {
    const ym = (y > 0 ? y - 1 : 0) * w;
    const y0 = y * w;
    const yp = (y < h - 1 ? y + 1 : h - 1) * w;
    for (let x = 0; x < w; x++) {
      const xm = x > 0 ? x - 1 : 0;
      const xp = x < w - 1 ? x + 1 : w - 1;
      dx[y0 + x] = s[ym + xp] - s[ym + xm] + 2 * (s[y0 + xp] - s[y0 + xm]) + s[yp + xp] - s[yp + xm];
      dy[y0 + x] = s[yp + xm] - s[ym + xm] + 2 * (s[yp + x] - s[ym + x]) + s[yp + xp] - s[ym + xp];
    }
  }
  // Magnitude in a buffer with a zero frame, so neighbours outside the image count as 0.
  const W = w + 2;
  const mag = new Float64Array(W * (h + 2));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      mag[(y + 1) * W + x + 1] = l2 ? dx[i] * dx[i] + dy[i] * dy[i] : Math.abs(dx[i]) + Math.abs(dy[i]);
    }
  }
  // state: 0 = not an edge, 1 = candidate (passed NMS and > low), 2 = edge.
  const state = new Uint8Array(w * h);
  const stack = new Int32Array(w * h);
  let sp = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const j = (y + 1) * W + x + 1;
      const m = mag[j];
      if (!(m > lo)) continue;
      const xs = dx[i];
      const ys = dy[i];
      const ax = Math.abs(xs);
      const ay = Math.abs(ys) * (1 << CANNY_SHIFT);
      const tg22x = ax * TG22;
      let keep: boolean;
      if (ay < tg22x) keep = m > mag[j - 1] && m >= mag[j + 1];
      else {
        const tg67x = tg22x + ax * (1 << (CANNY_SHIFT + 1));
        if (ay > tg67x) keep = m > mag[j - W] && m >= mag[j + W];
        else {
          const sgn = (xs < 0) !== (ys < 0) ? -1 : 1;
          keep = m > mag[j - W - sgn] && m > mag[j + W + sgn];
        }
      }
      if (!keep) continue;
      if (m > hi) {
        state[i] = 2;
        stack[sp++] = i;
      } else state[i] = 1;
    }
  }
  while (sp > 0) {
    const i = stack[--sp];
    const x = i % w;
    const y = (i - x) / w;
    for (let oy = -1; oy <= 1; oy++) {
      const ny = y + oy;
      if (ny < 0 || ny >= h) continue;
      for (let ox = -1; ox <= 1; ox++) {
        const nx = x + ox;
        if (nx < 0 || nx >= w) continue;
        const n = ny * w + nx;
        if (state[n] === 1) {
          state[n] = 2;
          stack[sp++] = n;
        }
      }
    }
  }
  const out = createImage(w, h, 1);
  for (let i = 0; i < state.length; i++) out.data[i] = state[i] === 2 ? 255 : 0;
  return out;
}

/** Composites an RGBA image over white (transparent line-art PNGs are drawn on "paper"). */
export function flattenAlpha(img: Image): Image {
  if (img.channels !== 4) return img;
  const out = createImage(img.width, img.height, 3);
  const s = img.data;
  const d = out.data;
  for (let i = 0, j = 0; i < s.length; i += 4, j += 3) {
    const a = s[i + 3];
    d[j] = Math.round((s[i] * a + 255 * (255 - a)) / 255);
    d[j + 1] = Math.round((s[i + 1] * a + 255 * (255 - a)) / 255);
    d[j + 2] = Math.round((s[i + 2] * a + 255 * (255 - a)) / 255);
  }
  return out;
}

function greyToRgb(g: Image): Image {
  const out = createImage(g.width, g.height, 3);
  for (let i = 0, j = 0; i < g.data.length; i++, j += 3) out.data[j] = out.data[j + 1] = out.data[j + 2] = g.data[i];
  return out;
}

function gaussianKernelForSigma(sigma: number): Float64Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  return getGaussianKernel(2 * r + 1, sigma);
}

function medianOf(values: Uint8Array): number {
  const hist = new Uint32Array(256);
  for (let i = 0; i < values.length; i++) hist[values[i]]++;
  const half = values.length / 2;
  let acc = 0;
  for (let v = 0; v < 256; v++) {
    acc += hist[v];
    if (acc >= half) return v;
  }
  return 255;
}

function borderPixels(g: Image): Uint8Array {
  const { width: w, height: h, data } = g;
  const out: number[] = [];
  for (let x = 0; x < w; x++) {
    out.push(data[x]);
    if (h > 1) out.push(data[(h - 1) * w + x]);
  }
  for (let y = 1; y < h - 1; y++) {
    out.push(data[y * w]);
    if (w > 1) out.push(data[y * w + w - 1]);
  }
  return Uint8Array.from(out);
}
