// Pillow's `Image.resize` for 8-bit images, reproduced exactly (Pillow src/libImaging/Resample.c): a
// separable convolution, horizontal pass first, each pass rounded back to uint8. The kernel is scaled by
// the downscale factor (antialiasing), its support window is rounded to whole pixels, the normalised
// weights are turned into 22-bit fixed point, and each sum starts at half a unit so the final shift rounds.
// Used where a reference resizes with PIL: CLIP's image processor (BICUBIC), ComfyUI's 'lanczos' ImageScale,
// the SDRO blueprint (LANCZOS).
import { assertImage, ImageError, type Image } from './image.ts';

export type PillowFilter = 'box' | 'bilinear' | 'hamming' | 'bicubic' | 'lanczos';

interface Filter { fn: (x: number) => number; support: number }

const sinc = (x: number) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));

const FILTERS: Record<PillowFilter, Filter> = {
  box: { support: 0.5, fn: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: { support: 1, fn: (x) => { const a = Math.abs(x); return a < 1 ? 1 - a : 0; } },
  hamming: {
    support: 1,
    fn: (x) => {
      const a = Math.abs(x);
      if (a === 0) return 1;
      if (a >= 1) return 0;
      // Pillow computes 0.54f + 0.46f * cos(x) with float constants promoted to double.
      return (Math.sin(a * Math.PI) / (a * Math.PI)) * (Math.fround(0.54) + Math.fround(0.46) * Math.cos(a * Math.PI));
    },
  },
  // Pillow's bicubic uses a = −0.5 (torch uses −0.75).
  bicubic: {
    support: 2,
    fn: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, fn: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

const PRECISION_BITS = 32 - 8 - 2;

interface Coeffs { bounds: Int32Array; ksize: number; k: Int32Array }

/** Per output pixel: first input index, tap count and fixed-point weights (Pillow's precompute_coeffs + normalize_coeffs_8bpc). */
function precompute(inSize: number, outSize: number, filter: Filter): Coeffs {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const k = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      w[x] = filter.fn((x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? w[x] / ww : w[x];
      k[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { bounds, ksize, k };
}

function clip8(sum: number): number {
  if (sum >= 2 ** (PRECISION_BITS + 8)) return 255;
  if (sum <= 0) return 0;
  return Math.floor(sum / 2 ** PRECISION_BITS);
}

/** One pass along x (`horizontal`) or y over an HWC uint8 buffer. */
function pass(src: Uint8Array, w: number, h: number, ch: number, outSize: number, horizontal: boolean, filter: Filter): Uint8Array {
  const { bounds, ksize, k } = precompute(horizontal ? w : h, outSize, filter);
  const ow = horizontal ? outSize : w;
  const oh = horizontal ? h : outSize;
  const out = new Uint8Array(ow * oh * ch);
  const half = 1 << (PRECISION_BITS - 1);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const o = horizontal ? x : y;
      const min = bounds[o * 2];
      const n = bounds[o * 2 + 1];
      const kk = o * ksize;
      for (let c = 0; c < ch; c++) {
        let sum = half;
        if (horizontal) for (let t = 0; t < n; t++) sum += src[(y * w + min + t) * ch + c] * k[kk + t];
        else for (let t = 0; t < n; t++) sum += src[((min + t) * w + x) * ch + c] * k[kk + t];
        out[(y * ow + x) * ch + c] = clip8(sum);
      }
    }
  }
  return out;
}

/**
 * PIL Image.resize((w, h), filter) on an 8-bit image. RGBA is resampled per channel, without Pillow's
 * premultiplication. A same-size resize returns a copy.
 */
export function pillowResize(img: Image, w: number, h: number, filter: PillowFilter): Image {
  assertImage(img, 'pillowResize');
  if (!Number.isInteger(w) || !Number.isInteger(h) || w <= 0 || h <= 0) throw new ImageError(`pillowResize: size must be positive integers, got ${w}×${h}`);
  const f = Object.hasOwn(FILTERS, filter) ? FILTERS[filter] : undefined;
  if (!f) throw new ImageError(`pillowResize: unknown filter ${filter}`);
  let data = img.data;
  // Pillow skips a pass whose size is unchanged.
  if (w !== img.width) data = pass(data, img.width, img.height, img.channels, w, true, f);
  if (h !== img.height) data = pass(data, w, img.height, img.channels, h, false, f);
  return { width: w, height: h, channels: img.channels, data: data === img.data ? data.slice() : data };
}
