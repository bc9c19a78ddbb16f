// Palette extraction from a flat-coloured character sheet, and palette lock: snapping every line-art
// region of a (diffusion-)coloured image to the nearest sheet colour, optionally keeping the shading as a
// separate multiply-style layer. Colour distances are CIE76 ΔE in CIELAB (D65).
import { ImageError, createImage, type Image } from './image.ts';

export type Rgb = readonly [number, number, number];
export type Lab = readonly [number, number, number];

export interface Palette {
  /** Exact colours found in the reference, most frequent first. */
  readonly colors: Rgb[];
  /** Flat pixels that voted for each colour (after merging near colours). */
  readonly counts: number[];
}

const SRGB_TO_LINEAR = new Float64Array(256);
for (let i = 0; i < 256; i++) {
  const c = i / 255;
  SRGB_TO_LINEAR[i] = c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
}

export function srgbToLinear(v: number): number {
  return SRGB_TO_LINEAR[v];
}

export function linearToSrgb(v: number): number {
  const c = v <= 0.0031308 ? v * 12.92 : 1.055 * Math.pow(v, 1 / 2.4) - 0.055;
  return Math.max(0, Math.min(255, Math.round(c * 255)));
}

/** Relative luminance Y in [0, 1] of an sRGB colour. */
export function luminance(r: number, g: number, b: number): number {
  return 0.2126729 * SRGB_TO_LINEAR[r] + 0.7151522 * SRGB_TO_LINEAR[g] + 0.072175 * SRGB_TO_LINEAR[b];
}

export function rgbToLab(r: number, g: number, b: number): Lab {
  const lr = SRGB_TO_LINEAR[r];
  const lg = SRGB_TO_LINEAR[g];
  const lb = SRGB_TO_LINEAR[b];
  const x = (0.4124564 * lr + 0.3575761 * lg + 0.1804375 * lb) / 0.95047;
  const y = 0.2126729 * lr + 0.7151522 * lg + 0.072175 * lb;
  const z = (0.0193339 * lr + 0.119192 * lg + 0.9503041 * lb) / 1.08883;
  const f = (t: number): number => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
  const fx = f(x);
  const fy = f(y);
  const fz = f(z);
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

export function deltaE(p: Lab, q: Lab, lightnessWeight = 1): number {
  const dl = (p[0] - q[0]) * lightnessWeight;
  return Math.sqrt(dl * dl + (p[1] - q[1]) ** 2 + (p[2] - q[2]) ** 2);
}

/** Index of the palette colour nearest to `lab` (ΔE with L scaled by `lightnessWeight`). */
export function nearestPaletteIndex(lab: Lab, paletteLab: readonly Lab[], lightnessWeight = 1): { index: number; distance: number } {
  let best = -1;
  let bestD = Infinity;
  for (let i = 0; i < paletteLab.length; i++) {
    const d = deltaE(lab, paletteLab[i], lightnessWeight);
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  }
  return { index: best, distance: bestD };
}

export function paletteToLab(palette: Palette | readonly Rgb[]): Lab[] {
  const colors = Array.isArray(palette) ? (palette as readonly Rgb[]) : (palette as Palette).colors;
  return colors.map(([r, g, b]) => rgbToLab(r, g, b));
}

export interface ReferencePixelOptions {
  /** Pixels darker than this CIELAB lightness are line art, not fill. */
  lineLightness?: number;
  /**
   * A pixel is paper when every channel is at least this, or when it is a light neutral grey (the
   * anti-aliased fringe of an outline); paper connected to the border is background.
   */
  whiteLevel?: number;
  /** A pixel is flat when each 4-neighbour differs by at most this per channel; anti-aliased edges are not. */
  flatTolerance?: number;
}

export interface ReferencePixels {
  /** 1 where the pixel is background: transparent, or paper (white / light grey) connected to the image border. */
  background: Uint8Array;
  /** 1 where the pixel is dark enough to be line art. */
  line: Uint8Array;
  /** 1 where the pixel is fill: not background, not line, and flat (not an anti-aliased edge). */
  fill: Uint8Array;
  foregroundCount: number;
}

/** Splits a reference into background, line and flat-fill pixels (the common first step of palette work). */
export function classifyReferencePixels(image: Image, options: ReferencePixelOptions = {}): ReferencePixels {
  assertImage(image, 'reference');
  const { width: w, height: h, channels: ch, data } = image;
  const lineL = options.lineLightness ?? 22;
  const white = options.whiteLevel ?? 248;
  const tol = options.flatTolerance ?? 6;
  const n = w * h;
  const rgb = toRgb(image);
  const background = new Uint8Array(n);
  const line = new Uint8Array(n);
  const fill = new Uint8Array(n);
  const nearWhite = new Uint8Array(n);
  // L* < lineL  ⇔  Y < Y(lineL); compare luminance to avoid a cube root per pixel.
  const lineY = lineL > 8 ? ((lineL + 16) / 116) ** 3 : lineL / (24389 / 27);
  for (let i = 0; i < n; i++) {
    const r = rgb[i * 3];
    const g = rgb[i * 3 + 1];
    const b = rgb[i * 3 + 2];
    if (ch === 4 && data[i * 4 + 3] < 128) {
      background[i] = 1;
      continue;
    }
    // Paper: near white, or the light grey of an outline's anti-aliased fringe on white.
    if ((r >= white && g >= white && b >= white) || (Math.max(r, g, b) - Math.min(r, g, b) <= 8 && Math.min(r, g, b) >= 128)) nearWhite[i] = 1;
    else if (luminance(r, g, b) < lineY) line[i] = 1;
  }
  // Background = paper (or transparent) pixels 4-connected to the border; interior white (eye whites,
  // a white shirt) stays a fill colour. Breadth-first flood, written out (hot loop on large sheets).
  const queue = new Int32Array(n);
  let qt = 0;
  for (let i = 0; i < n; i++) {
    const x = i % w;
    const onBorder = i < w || i >= n - w || x === 0 || x === w - 1;
    if ((onBorder && nearWhite[i]) || (background[i] && !nearWhite[i])) {
      background[i] = 1;
      queue[qt++] = i;
    }
  }
  for (let qh = 0; qh < qt; qh++) {
    const i = queue[qh];
    const x = i % w;
    let j = i - 1;
    if (x > 0 && nearWhite[j] && !background[j]) { background[j] = 1; queue[qt++] = j; }
    j = i + 1;
    if (x < w - 1 && nearWhite[j] && !background[j]) { background[j] = 1; queue[qt++] = j; }
    j = i - w;
    if (j >= 0 && nearWhite[j] && !background[j]) { background[j] = 1; queue[qt++] = j; }
    j = i + w;
    if (j < n && nearWhite[j] && !background[j]) { background[j] = 1; queue[qt++] = j; }
  }
  let foregroundCount = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (background[i]) continue;
      foregroundCount++;
      if (line[i]) continue;
      if ((x > 0 && !near(rgb, i, i - 1, tol)) || (x < w - 1 && !near(rgb, i, i + 1, tol)) || (y > 0 && !near(rgb, i, i - w, tol)) || (y < h - 1 && !near(rgb, i, i + w, tol))) continue;
      fill[i] = 1;
    }
  }
  return { background, line, fill, foregroundCount };
}

function near(rgb: Uint8Array, i: number, j: number, tol: number): boolean {
  return Math.abs(rgb[i * 3] - rgb[j * 3]) <= tol && Math.abs(rgb[i * 3 + 1] - rgb[j * 3 + 1]) <= tol && Math.abs(rgb[i * 3 + 2] - rgb[j * 3 + 2]) <= tol;
}

export interface PaletteOptions extends ReferencePixelOptions {
  /** Colours closer than this ΔE are merged into the more frequent one. */
  mergeDistance?: number;
  /** Colours covering less than this fraction of the fill pixels are dropped (anti-aliasing, noise). */
  minFraction?: number;
}

export class PaletteError extends Error {
  override name = 'PaletteError';
}

/**
 * Extracts the flat colours of a character sheet: histogram of flat, non-line, non-background pixels,
 * then greedy merging of near colours (most frequent first, so each entry keeps an exact sheet colour).
 * Throws PaletteError when the reference has no foreground fill at all.
 */
export function extractPalette(image: Image, options: PaletteOptions = {}, pixels = classifyReferencePixels(image, options)): Palette {
  const mergeDistance = options.mergeDistance ?? 10;
  const minFraction = options.minFraction ?? 0.0005;
  const rgb = toRgb(image);
  const counts = new Map<number, number>();
  let total = 0;
  let runKey = -1;
  let run = 0;
  for (let i = 0; i < pixels.fill.length; i++) {
    if (!pixels.fill[i]) continue;
    const key = (rgb[i * 3] << 16) | (rgb[i * 3 + 1] << 8) | rgb[i * 3 + 2];
    total++;
    // Flat images come in long runs of one colour: count runs, touch the map once per run.
    if (key === runKey) {
      run++;
      continue;
    }
    if (run) counts.set(runKey, (counts.get(runKey) ?? 0) + run);
    runKey = key;
    run = 1;
  }
  if (run) counts.set(runKey, (counts.get(runKey) ?? 0) + run);
  if (total === 0) {
    throw new PaletteError(
      `reference has no foreground colour: every pixel is background (white/transparent, border-connected) or line (dark)` +
        ` (${pixels.foregroundCount} foreground pixels, none flat and coloured)`,
    );
  }
  const sorted = [...counts.entries()].sort((p, q) => q[1] - p[1] || p[0] - q[0]);
  const colors: Rgb[] = [];
  const labs: Lab[] = [];
  const merged: number[] = [];
  for (const [key, count] of sorted) {
    const c: Rgb = [(key >> 16) & 255, (key >> 8) & 255, key & 255];
    const lab = rgbToLab(c[0], c[1], c[2]);
    const near = nearestPaletteIndex(lab, labs);
    if (near.index >= 0 && near.distance < mergeDistance) {
      merged[near.index] += count;
    } else {
      colors.push(c);
      labs.push(lab);
      merged.push(count);
    }
  }
  const keep = Math.max(1, minFraction * total);
  const out: Palette = { colors: [], counts: [] };
  for (let i = 0; i < colors.length; i++) {
    if (merged[i] >= keep) {
      out.colors.push(colors[i]);
      out.counts.push(merged[i]);
    }
  }
  return out;
}

export interface PaletteLockOptions {
  /** Also return the shading layer: luminance(original) / luminance(locked flat colour), per pixel. */
  keepShading?: boolean;
  /** Weight of lightness in the snap distance; < 1 lets shaded areas still find their base colour. */
  lightnessWeight?: number;
  /** Line-art luminance per pixel (0 = line); when given, pixels darker than 128 don't vote and the lines are multiplied back into `locked`. */
  lineArt?: Image;
}

export interface PaletteLockResult {
  /** Each region filled with one exact palette colour (lines multiplied in when `lineArt` was given). */
  locked: Image;
  /** Palette index chosen for each region. */
  regionPalette: Int32Array;
  /**
   * Grey image, value = round(128 · Y(original) / Y(flat)) clamped to 0–255: 128 means unchanged, less is
   * shadow, more is highlight. `applyShading(locked, shading)` puts it back.
   */
  shading?: Image;
}

/**
 * Snaps each region of `labels` (values 0..regionCount−1, one per pixel; from a line-art segmentation) to the
 * palette colour nearest to the region's mean CIELAB colour in `colored`.
 */
export function paletteLockRegions(
  colored: Image,
  labels: Int32Array,
  regionCount: number,
  palette: Palette,
  options: PaletteLockOptions = {},
): PaletteLockResult {
  assertImage(colored, 'coloured image');
  const { width: w, height: h } = colored;
  const n = w * h;
  if (labels.length !== n) throw new ImageError(`palette lock: region map has ${labels.length} pixels, image has ${n}`);
  if (!palette.colors.length) throw new PaletteError('palette lock: the palette is empty');
  const lineLum = options.lineArt ? lineLuminance(options.lineArt, w, h) : undefined;
  const rgb = toRgb(colored);
  const sums = new Float64Array(regionCount * 4);
  const allSums = new Float64Array(regionCount * 4);
  for (let i = 0; i < n; i++) {
    const r = labels[i];
    if (r < 0 || r >= regionCount) continue;
    const lab = rgbToLab(rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]);
    const target = lineLum && lineLum[i] < 128 ? allSums : sums;
    target[r * 4] += lab[0];
    target[r * 4 + 1] += lab[1];
    target[r * 4 + 2] += lab[2];
    target[r * 4 + 3]++;
  }
  const paletteLab = paletteToLab(palette);
  const weightL = options.lightnessWeight ?? 0.5;
  const regionPalette = new Int32Array(regionCount);
  for (let r = 0; r < regionCount; r++) {
    // A region made only of line pixels still needs a colour: fall back to its line pixels' mean.
    const s = sums[r * 4 + 3] > 0 ? sums : allSums;
    const cnt = s[r * 4 + 3] || 1;
    const mean: Lab = [s[r * 4] / cnt, s[r * 4 + 1] / cnt, s[r * 4 + 2] / cnt];
    regionPalette[r] = nearestPaletteIndex(mean, paletteLab, weightL).index;
  }
  const locked = createImage(w, h, 3);
  const shading = options.keepShading ? createImage(w, h, 1) : undefined;
  for (let i = 0; i < n; i++) {
    const r = labels[i];
    const c = palette.colors[r >= 0 && r < regionCount ? regionPalette[r] : 0];
    if (shading) {
      const yFlat = luminance(c[0], c[1], c[2]);
      const yOrig = luminance(rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]);
      shading.data[i] = Math.min(255, Math.round((128 * yOrig) / Math.max(yFlat, 1e-4)));
    }
    const k = lineLum ? lineLum[i] / 255 : 1;
    locked.data[i * 3] = Math.round(c[0] * k);
    locked.data[i * 3 + 1] = Math.round(c[1] * k);
    locked.data[i * 3 + 2] = Math.round(c[2] * k);
  }
  return { locked, regionPalette, shading };
}

/** Re-applies a shading layer from paletteLockRegions: linear-light multiply by shading/128. */
export function applyShading(flat: Image, shading: Image): Image {
  if (flat.width !== shading.width || flat.height !== shading.height) {
    throw new ImageError(`applyShading: sizes differ (${flat.width}×${flat.height} vs ${shading.width}×${shading.height})`);
  }
  const rgb = toRgb(flat);
  const out = createImage(flat.width, flat.height, 3);
  const sc = shading.channels;
  for (let i = 0; i < flat.width * flat.height; i++) {
    const k = shading.data[i * sc] / 128;
    for (let c = 0; c < 3; c++) out.data[i * 3 + c] = linearToSrgb(SRGB_TO_LINEAR[rgb[i * 3 + c]] * k);
  }
  return out;
}

/** RGB bytes of any Image (grey expanded, alpha ignored). */
export function toRgb(image: Image): Uint8Array {
  const { width: w, height: h, channels: ch, data } = image;
  if (ch === 3) return data;
  const out = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    if (ch === 1) out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = data[i];
    else {
      out[i * 3] = data[i * 4];
      out[i * 3 + 1] = data[i * 4 + 1];
      out[i * 3 + 2] = data[i * 4 + 2];
    }
  }
  return out;
}

/** Grey level of a line-art image (transparent counts as white), checked to be w×h. */
function lineLuminance(lineArt: Image, w: number, h: number): Uint8Array {
  assertImage(lineArt, 'line art');
  if (lineArt.width !== w || lineArt.height !== h) {
    throw new ImageError(`line art is ${lineArt.width}×${lineArt.height} but the coloured image is ${w}×${h}`);
  }
  return greyOf(lineArt);
}

/** BT.601 grey of any Image; transparent pixels read as white (paper). */
export function greyOf(image: Image): Uint8Array {
  const { width: w, height: h, channels: ch, data } = image;
  const out = new Uint8Array(w * h);
  for (let i = 0; i < w * h; i++) {
    if (ch === 1) out[i] = data[i];
    else {
      const g = Math.round(0.299 * data[i * ch] + 0.587 * data[i * ch + 1] + 0.114 * data[i * ch + 2]);
      out[i] = ch === 4 && data[i * 4 + 3] < 128 ? 255 : g;
    }
  }
  return out;
}

/** Throws a clear ImageError unless `image` is a well-formed Image. */
export function assertImage(image: unknown, label: string): asserts image is Image {
  const img = image as Image | null | undefined;
  if (!img || typeof img !== 'object' || !(img.data instanceof Uint8Array)) throw new ImageError(`${label}: not an image`);
  if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width <= 0 || img.height <= 0) {
    throw new ImageError(`${label}: invalid size ${img.width}×${img.height}`);
  }
  if (img.channels !== 1 && img.channels !== 3 && img.channels !== 4) throw new ImageError(`${label}: unsupported channel count ${img.channels}`);
  if (img.data.length !== img.width * img.height * img.channels) {
    throw new ImageError(`${label}: data has ${img.data.length} bytes, expected ${img.width}×${img.height}×${img.channels}`);
  }
}
