// The flat "paint bucket" colouriser: no model. Segment the line art into closed regions, segment the
// reference into flat-colour regions, match them (match.ts) and fill each target region with the exact
// palette colour of its match. Returns the flat layer (colours only) and the composite (flat × line art).
import { createImage, type Image } from '../../imaging/image.ts';
import { assertImage, greyOf, type Palette, type Rgb } from '../../imaging/palette.ts';
import { describeRegions, matchRegions, type MatchOptions } from './match.ts';
import { segmentLineArt, type LineArtRegionOptions, type LineArtRegions } from './regions.ts';
import { segmentReference, type ReferenceRegionOptions } from './referenceRegions.ts';
import { regionAdjacency, regionStats } from './regionStats.ts';

export interface FlatColorizeOptions {
  lineArt?: LineArtRegionOptions;
  reference?: ReferenceRegionOptions;
  match?: MatchOptions;
  /** Colour of the paper around the figure (regions touching the image border); default white. */
  background?: Rgb;
}

export interface FlatColorizeInput {
  /** The character sheet: flat colours, dark outlines, white or transparent background. Any size. */
  reference: Image;
  /** Dark lines on light paper (white-on-black is inverted automatically). Output has its size. */
  lineArt: Image;
  options?: FlatColorizeOptions;
}

export interface FlatColorizeResult {
  /** RGB, every pixel a palette colour (or the background colour); line pixels take a neighbouring region's colour. */
  flat: Image;
  /** RGB, the flat layer multiplied by the line art, as a finished drawing. */
  composite: Image;
  /** The line-art segmentation, plus the palette index chosen for each region (−1 = background). */
  regions: LineArtRegions & { paletteIndex: Int32Array };
  /** The palette extracted from the reference. */
  palette: Palette;
}

/**
 * Colours `lineArt` with the palette of `reference`. Reference and line art may differ in size.
 * Throws FlatColorizeError for line art without lines and for a reference without coloured foreground,
 * ImageError for something that is not an image.
 */
export function flatColorize({ reference, lineArt, options = {} }: FlatColorizeInput): FlatColorizeResult {
  assertImage(reference, 'reference');
  assertImage(lineArt, 'line art');
  const target = segmentLineArt(lineArt, options.lineArt);
  const ref = segmentReference(reference, options.reference);

  const targetCore = new Uint8Array(target.line.length);
  for (let i = 0; i < targetCore.length; i++) targetCore[i] = target.line[i] ^ 1;
  const tStats = regionStats(target.labels, targetCore, target.width, target.height, target.count);
  const tAdj = regionAdjacency(target.labels, target.width, target.height, target.count);
  const rStats = regionStats(ref.labels, ref.core, ref.width, ref.height, ref.count);
  const rAdj = regionAdjacency(ref.labels, ref.width, ref.height, ref.count);
  const { color } = matchRegions(
    describeRegions(tStats, tAdj, target.isBackground),
    describeRegions(rStats, rAdj, ref.isBackground),
    ref.paletteIndex,
    options.match,
  );

  const { width: w, height: h } = lineArt;
  const bg = options.background ?? [255, 255, 255];
  const lut = new Uint8Array(target.count * 3);
  for (let r = 0; r < target.count; r++) {
    const c = color[r] >= 0 ? ref.palette.colors[color[r]] : bg;
    lut[r * 3] = c[0];
    lut[r * 3 + 1] = c[1];
    lut[r * 3 + 2] = c[2];
  }
  const flat = createImage(w, h, 3);
  const composite = createImage(w, h, 3);
  const grey = greyOf(lineArt);
  const fd = flat.data;
  const cd = composite.data;
  const inv = target.inverted;
  for (let i = 0, o = 0; i < w * h; i++, o += 3) {
    const l = target.labels[i] * 3;
    // Inverted (white-on-black) input: the line darkness is 255 − grey.
    const k = inv ? 255 - grey[i] : grey[i];
    const r = lut[l];
    const g = lut[l + 1];
    const b = lut[l + 2];
    fd[o] = r;
    fd[o + 1] = g;
    fd[o + 2] = b;
    cd[o] = (r * k + 127) / 255;
    cd[o + 1] = (g * k + 127) / 255;
    cd[o + 2] = (b * k + 127) / 255;
  }
  return { flat, composite, regions: { ...target, paletteIndex: color }, palette: ref.palette };
}
