// Palette lock for any coloured image (e.g. a diffusion result): segment the line art into closed regions and
// snap each region to the nearest colour of the reference palette (imaging/palette.ts does the snapping).
import { type Image, ImageError } from '../../imaging/image.ts';
import { assertImage, paletteLockRegions, type Palette, type PaletteLockOptions, type PaletteLockResult } from '../../imaging/palette.ts';
import { segmentLineArt, type LineArtRegionOptions } from './regions.ts';

export interface PaletteLockPipelineOptions extends Omit<PaletteLockOptions, 'lineArt'> {
  lineArt?: LineArtRegionOptions;
}

/**
 * Snaps every line-art region of `colored` to its nearest palette colour (CIELAB, lightness down-weighted so
 * shaded areas find their base colour); lines are multiplied back in. With `keepShading`, also returns the
 * shading layer (see PaletteLockResult.shading). `colored` and `lineArt` must have the same size.
 */
export function paletteLock(colored: Image, lineArt: Image, palette: Palette, options: PaletteLockPipelineOptions = {}): PaletteLockResult {
  assertImage(colored, 'coloured image');
  assertImage(lineArt, 'line art');
  if (colored.width !== lineArt.width || colored.height !== lineArt.height) {
    throw new ImageError(`palette lock: coloured image is ${colored.width}×${colored.height} but line art is ${lineArt.width}×${lineArt.height}; resize one first`);
  }
  const regions = segmentLineArt(lineArt, options.lineArt);
  const { lineArt: _ignored, ...lockOptions } = options;
  return paletteLockRegions(colored, regions.labels, regions.count, palette, { ...lockOptions, lineArt });
}
