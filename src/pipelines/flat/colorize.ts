// The flat "paint bucket" colouriser: no model. Segment the line art into closed regions, segment the
// reference into flat-colour regions, match them (match.ts: alignment + structure-aware assignment) and fill
// each target region with the exact palette colour of its match. Which target regions are background (paper,
// scenery) is decided by the matching, not by position: a cropped figure touches the frame edge too.
import type { Image } from '../../imaging/image.ts';
import { resizeImage } from '../../imaging/resize.ts';
import { assertImage, type Palette, type Rgb } from '../../imaging/palette.ts';
import { describeRegions, matchRegions, type Alignment, type MatchOptions } from './match.ts';
import { segmentLineArt, type LineArtRegionOptions, type LineArtRegions } from './regions.ts';
import { segmentReference, type ReferenceRegionOptions } from './referenceRegions.ts';
import { regionAdjacency, regionStats } from './regionStats.ts';
import { renderRegions } from './render.ts';
import { sheetBackgroundShare } from './sheetOverlap.ts';

export interface FlatColorizeOptions {
  lineArt?: LineArtRegionOptions;
  reference?: ReferenceRegionOptions;
  match?: MatchOptions;
  /** Colour given to background regions (paper, scenery the sheet does not show); default white. */
  background?: Rgb;
  /** Regions with confidence below this are reported uncertain (default DEFAULT_UNCERTAIN_BELOW, 0.5). */
  uncertainBelow?: number;
}

export interface FlatColorizeInput {
  /** The character sheet: flat colours, dark outlines, white or transparent background. Any size. */
  reference: Image;
  /** Dark (or colour-trace) lines on light paper or on a transparent layer; white-on-black is inverted. */
  lineArt: Image;
  options?: FlatColorizeOptions;
}

export interface FlatColorizeResult {
  /** RGB, every pixel a palette colour (or the background colour); line pixels take a neighbouring region's colour. */
  flat: Image;
  /** RGB, the flat layer multiplied by the black lines; colour-trace lines painted over. */
  composite: Image;
  /** Grey mask (255) over the regions whose colour is uncertain, for the user to check. */
  uncertain: Image;
  /** The line-art segmentation, the palette index per region (−1 = background) and the confidence per region. */
  regions: LineArtRegions & { paletteIndex: Int32Array; confidence: Float32Array };
  /** The palette extracted from the reference. */
  palette: Palette;
  /** Target pixel → sheet pixel similarity found by the matcher. */
  alignment: Alignment;
  /** Things the user should know (nothing coloured, very small input, many uncertain regions). */
  warnings: string[];
}

/**
 * Colours `lineArt` with the palette of `reference`. Reference and line art may differ in size.
 * Throws FlatColorizeError for line art without lines and for a reference without coloured foreground,
 * ImageError for something that is not an image.
 */
/**
 * Regions whose confidence is below this are reported uncertain. Measured on tuning seeds 100–139 (bench/flat.ts
 * reports it): at 0.5 about 16 % of regions are flagged, half of them wrong, and they hold 63 % of the wrong
 * regions; at the former 0.35, 14 % flagged held only 54 %.
 */
export const DEFAULT_UNCERTAIN_BELOW = 0.5;

/** Longest side at which a character sheet is analysed (larger sheets are subsampled by a whole factor). */
export const SHEET_ANALYSIS_SIDE = 1024;

export function flatColorize({ reference, lineArt, options = {} }: FlatColorizeInput): FlatColorizeResult {
  assertImage(reference, 'reference');
  assertImage(lineArt, 'line art');
  const target = segmentLineArt(lineArt, options.lineArt);
  // A sheet is analysed at most SHEET_ANALYSIS_SIDE px wide (every k-th pixel: exact colours, no blends), so a
  // 4k sheet costs what a 1k one does; regions, not sharp lines, are what the matcher reads from it.
  const stride = Math.max(1, Math.ceil(Math.max(reference.width, reference.height) / SHEET_ANALYSIS_SIDE));
  const sheet = stride > 1 ? resizeImage(reference, Math.max(1, Math.floor(reference.width / stride)), Math.max(1, Math.floor(reference.height / stride)), 'nearest-exact') : reference;
  const ref = segmentReference(sheet, options.reference);

  const targetCore = new Uint8Array(target.line.length);
  for (let i = 0; i < targetCore.length; i++) targetCore[i] = target.line[i] ^ 1;
  const tStats = regionStats(target.labels, targetCore, target.width, target.height, target.count);
  const tAdj = regionAdjacency(target.labels, target.width, target.height, target.count);
  // Regions across a colour-trace line (no trace ink at all: no partners, and no second walk over the frame).
  const tracePartners = target.trace.indexOf(1) >= 0 ? regionAdjacency(target.labels, target.width, target.height, target.count, target.trace, false) : undefined;
  const rStats = regionStats(ref.labels, ref.core, ref.width, ref.height, ref.count);
  const rAdj = regionAdjacency(ref.labels, ref.width, ref.height, ref.count);
  const { color, confidence, alignment: sheetAlignment } = matchRegions(
    describeRegions(tStats, tAdj, new Array<boolean>(target.count).fill(false), target.touchesBorder, tracePartners),
    describeRegions(rStats, rAdj, ref.isBackground, undefined, regionAdjacency(ref.labels, ref.width, ref.height, ref.count, ref.core, true)),
    ref.paletteIndex,
    options.match,
    (a) => sheetBackgroundShare(target, { labels: ref.labels, width: ref.width, height: ref.height, isBackground: Array.from(ref.paletteIndex, (c) => c < 0) }, a),
  );
  const alignment = { ...sheetAlignment, s: sheetAlignment.s * stride, tx: sheetAlignment.tx * stride, ty: sheetAlignment.ty * stride };
  const bg = options.background ?? [255, 255, 255];
  const colors = Array.from(color, (c) => (c >= 0 ? ref.palette.colors[c] : bg));
  const out = renderRegions(target, colors, confidence, options.uncertainBelow ?? DEFAULT_UNCERTAIN_BELOW);
  const warnings = flatWarnings(target, color, out.uncertainCount);
  return {
    flat: out.flat, composite: out.composite, uncertain: out.uncertain,
    regions: { ...target, paletteIndex: color, confidence }, palette: ref.palette, alignment, warnings,
  };
}

/** Plain-language warnings for results a user might otherwise take as silently wrong. */
export function flatWarnings(target: LineArtRegions, color: Int32Array, uncertainCount: number): string[] {
  const warnings: string[] = [];
  const { width: w, height: h } = target;
  let coloured = 0;
  for (let r = 0; r < target.count; r++) if (color[r] >= 0) coloured++;
  if (coloured === 0) {
    warnings.push(`no region of the ${w}×${h} line art matched the sheet: ${target.count} closed region(s) were all taken as background, so the output has no sheet colour`);
  }
  if (Math.min(w, h) < 64) {
    warnings.push(`line art is only ${w}×${h}: lines ${Math.min(w, h) < 32 ? 'leave almost no room for closed regions' : 'close few regions'}; colouring is unreliable below ~64 px`);
  }
  if (target.count > 1 && uncertainCount > target.count / 3) {
    warnings.push(`${uncertainCount} of ${target.count} regions are uncertain; check them (write the uncertain mask to see which)`);
  }
  return warnings;
}
