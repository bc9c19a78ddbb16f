// Reference (character sheet) → flat-colour regions: extract the palette, then explain every foreground
// pixel as a palette colour c darkened towards the black of the lines, p ≈ (1 − α)·c (how an anti-aliased
// outline blends into a fill). Pixels with α < ½ belong to c, the rest are line — the same rule that makes
// a line-art pixel "line" below grey 128, so thin areas between outlines survive as regions. Then 4-connected
// components of one colour, specks dropped; the background (paper connected to the border) is region 0.
// Line pixels are finally given to the nearest region so regions separated only by a line are neighbours.
import { type Image } from '../../imaging/image.ts';
import {
  assertImage, classifyReferencePixels, extractPalette, toRgb, PaletteError, type Palette, type PaletteOptions,
} from '../../imaging/palette.ts';
import { growLabels, labelComponents } from './components.ts';
import { FlatColorizeError } from './flatError.ts';

export interface ReferenceRegionOptions extends PaletteOptions {
  /** Pixels farther than this (RGB distance) from every palette colour's line blend are ignored (default 40). */
  maxResidual?: number;
  /** Components smaller than this many pixels are dropped; default max(3, 2e-5 · foreground). */
  minArea?: number;
  /** Use this palette instead of extracting one. */
  palette?: Palette;
}

export interface ReferenceRegions {
  width: number;
  height: number;
  /** Region id of every pixel; 0 is the background. */
  labels: Int32Array;
  /** 1 where the pixel is a snapped fill pixel of its region (what the measurements use). */
  core: Uint8Array;
  count: number;
  /** Palette index of each region (−1 for the background: region 0, and enclosed background pockets). */
  paletteIndex: Int32Array;
  isBackground: boolean[];
  palette: Palette;
}

export function segmentReference(reference: Image, options: ReferenceRegionOptions = {}): ReferenceRegions {
  assertImage(reference, 'reference');
  const { width: w, height: h } = reference;
  const n = w * h;
  const pixels = classifyReferencePixels(reference, options);
  let palette: Palette;
  try {
    // Small details (pupils, buttons) are a few dozen pixels on a sheet, most of them next to an anti-aliased
    // outline: count a pixel as fill when two of its 4-neighbours have exactly its colour (not all four), and
    // keep colours down to 1e-4 of the fill.
    palette = options.palette ?? extractPalette(reference, { minFraction: 1e-4, ...options }, { ...pixels, fill: relaxedFill(reference, pixels) });
  } catch (err) {
    if (err instanceof PaletteError) throw new FlatColorizeError(err.message);
    throw err;
  }
  if (!palette.colors.length) throw new FlatColorizeError('reference palette is empty');
  const maxResidual = options.maxResidual ?? 40;
  const rgb = toRgb(reference);
  const key = new Int32Array(n).fill(-1);
  const eligible = new Uint8Array(n);
  const cache = new Map<number, number>();
  let lastColor = -1;
  let lastIdx = -1;
  for (let i = 0; i < n; i++) {
    if (pixels.background[i]) continue;
    const c = (rgb[i * 3] << 16) | (rgb[i * 3 + 1] << 8) | rgb[i * 3 + 2];
    if (c !== lastColor) {
      // Flat sheets repeat a colour along a row: look up once per run.
      let idx = cache.get(c);
      if (idx === undefined) {
        idx = explainPixel(rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2], palette, maxResidual);
        cache.set(c, idx);
      }
      lastColor = c;
      lastIdx = idx;
    }
    if (lastIdx >= 0) {
      key[i] = lastIdx;
      eligible[i] = 1;
    }
  }
  // Background pixels as components of their own (key −2): the one(s) touching the sheet's edge are the
  // paper, region 0; an enclosed pocket (transparent between an arm and the body, or between a twin tail
  // and the neck) is a region of its own whose "colour" is background, so a target pocket can match it —
  // background decided by matching, not by position.
  for (let i = 0; i < n; i++) {
    if (pixels.background[i]) {
      key[i] = -2;
      eligible[i] = 1;
    }
  }
  const labels = new Int32Array(n).fill(-1);
  const count0 = labelComponents(eligible, labels, w, h, 1, key);
  const onEdge = new Uint8Array(count0);
  for (let x = 0; x < w; x++) {
    if (labels[x] > 0 && key[x] === -2) onEdge[labels[x]] = 1;
    const b = (h - 1) * w + x;
    if (labels[b] > 0 && key[b] === -2) onEdge[labels[b]] = 1;
  }
  for (let y = 0; y < h; y++) {
    for (const i of [y * w, y * w + w - 1]) if (labels[i] > 0 && key[i] === -2) onEdge[labels[i]] = 1;
  }
  // Drop specks: their pixels become unlabelled and are absorbed by the growth below.
  const minArea = options.minArea ?? Math.max(3, 2e-5 * pixels.foregroundCount);
  const area = new Float64Array(count0);
  for (let i = 0; i < n; i++) if (labels[i] >= 0) area[labels[i]]++;
  const remap = new Int32Array(count0).fill(-1);
  const paletteIndexList: number[] = [-1];
  const firstPixel = new Int32Array(count0).fill(-1);
  for (let i = 0; i < n; i++) if (labels[i] > 0 && firstPixel[labels[i]] < 0) firstPixel[labels[i]] = i;
  let coloured = 0;
  for (let r = 1; r < count0; r++) {
    const k = key[firstPixel[r]];
    if (k === -2 && onEdge[r]) remap[r] = 0;
    else if (area[r] >= minArea) {
      remap[r] = paletteIndexList.length;
      paletteIndexList.push(k === -2 ? -1 : k);
      if (k !== -2) coloured++;
    }
  }
  const count = paletteIndexList.length;
  if (coloured === 0) {
    throw new FlatColorizeError(`reference has no foreground: no flat coloured area of at least ${Math.ceil(minArea)} pixels (${w}×${h})`);
  }
  const core = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    if (l < 0) continue;
    labels[i] = remap[l];
    if (labels[i] > 0) core[i] = 1;
  }
  growLabels(labels, w, h);
  const isBackground = paletteIndexList.map((_, k) => k === 0);
  return { width: w, height: h, labels, core, count, paletteIndex: Int32Array.from(paletteIndexList), isBackground, palette };
}

/**
 * Palette index whose black blend (1 − α)·c best explains the pixel, or −1 when the pixel is line (α ≥ ½)
 * or nothing fits within `maxResidual`.
 */
function explainPixel(r: number, g: number, b: number, palette: Palette, maxResidual: number): number {
  let best = -1;
  let bestErr = Infinity;
  let bestAlpha = 1;
  for (let k = 0; k < palette.colors.length; k++) {
    const [cr, cg, cb] = palette.colors[k];
    const cc = cr * cr + cg * cg + cb * cb;
    if (cc === 0) continue;
    const keep = Math.max(0, Math.min(1, (r * cr + g * cg + b * cb) / cc)); // 1 − α
    const er = r - keep * cr;
    const eg = g - keep * cg;
    const eb = b - keep * cb;
    const err = er * er + eg * eg + eb * eb;
    if (err < bestErr) {
      bestErr = err;
      best = k;
      bestAlpha = 1 - keep;
    }
  }
  if (best < 0 || bestAlpha >= 0.5 || Math.sqrt(bestErr) > maxResidual) return -1;
  return best;
}

/** Non-background, non-line pixels with at least two 4-neighbours of exactly the same RGB, outline fringes excepted. */
function relaxedFill(image: Image, pixels: { background: Uint8Array; line: Uint8Array }): Uint8Array {
  const { width: w, height: h } = image;
  const rgb = toRgb(image);
  const key = new Int32Array(w * h);
  for (let i = 0; i < w * h; i++) key[i] = (rgb[i * 3] << 16) | (rgb[i * 3 + 1] << 8) | rgb[i * 3 + 2];
  const fill = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (pixels.background[i] || pixels.line[i]) continue;
      const k = key[i];
      const same = (x > 0 && key[i - 1] === k ? 1 : 0) + (x < w - 1 && key[i + 1] === k ? 1 : 0) + (y > 0 && key[i - w] === k ? 1 : 0) + (y < h - 1 && key[i + w] === k ? 1 : 0);
      if (same >= 2) fill[i] = 1;
    }
  }
  dropOutlineFringes(fill, key, pixels.line, w, h);
  return fill;
}

/**
 * Removes from `fill` the colours that are only an outline's anti-aliased fringe: every one of their pixels
 * touches a line pixel, and the colour is about a half blend of the line black with a colour c that has
 * pixels away from the lines (or with the white paper). In a sliver between two close outlines (a hair
 * strand, the gap between the legs) such a blend runs for dozens of pixels of one exact RGB and would
 * otherwise become a palette colour, stealing the regions next to it (the bundled example lost its
 * shirt, a leg and the irises to them). A real small detail (a pupil, even one as dark as a half blend) has
 * pixels that do not touch the outline.
 */
function dropOutlineFringes(fill: Uint8Array, key: Int32Array, line: Uint8Array, w: number, h: number): void {
  const n = w * h;
  const interior = new Set<number>();
  for (let i = 0; i < n; i++) {
    if (!fill[i] || interior.has(key[i])) continue;
    const x = i % w;
    const touches = (x > 0 && line[i - 1] === 1) || (x < w - 1 && line[i + 1] === 1) || (i >= w && line[i - w] === 1) || (i + w < n && line[i + w] === 1);
    if (!touches) interior.add(key[i]);
  }
  const solid = [0xffffff, ...interior];
  const verdict = new Map<number, boolean>(); // fringe-only colour → is a line blend
  for (let i = 0; i < n; i++) {
    if (!fill[i] || interior.has(key[i])) continue;
    let blend = verdict.get(key[i]);
    if (blend === undefined) verdict.set(key[i], (blend = isLineBlendOf(key[i], solid)));
    if (blend) fill[i] = 0;
  }
}

/**
 * True when colour `k` ≈ f·c for one of `solid` with 0.3 ≤ f ≤ 0.6: a fill darkened by a line about half
 * covering the pixel. Lighter multiples (f > 0.6) are left alone: a shade of a colour drawn next to it is
 * usually 0.6–0.9 of it, and a thin shade strip can touch the outline everywhere.
 */
function isLineBlendOf(k: number, solid: number[]): boolean {
  const r = (k >> 16) & 255, g = (k >> 8) & 255, b = k & 255;
  for (const c of solid) {
    const cr = (c >> 16) & 255, cg = (c >> 8) & 255, cb = c & 255;
    const norm = cr * cr + cg * cg + cb * cb;
    if (!norm) continue;
    const f = (r * cr + g * cg + b * cb) / norm; // least-squares factor
    if (f < 0.3 || f > 0.6) continue;
    if (Math.abs(r - f * cr) <= 3 && Math.abs(g - f * cg) <= 3 && Math.abs(b - f * cb) <= 3) return true;
  }
  return false;
}
