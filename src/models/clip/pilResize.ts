// CLIP's image processor resizes with PIL (BICUBIC by default) on uint8, so matching it byte for byte
// needs Pillow's resampler (imaging/pillowResize.ts). This adds what the processor config speaks:
// PIL's numeric resample codes, and RGB or grey input only (CLIPImageProcessor converts to RGB first;
// Pillow would premultiply RGBA alpha, which pillowResize does not).
import { type Image, ImageError, assertImage } from '../../imaging/image.ts';
import { pillowResize, type PillowFilter } from '../../imaging/pillowResize.ts';

/** PIL resample codes as stored in preprocessor_config.json (`resample`). */
export const PIL_FILTERS = { 1: 'lanczos', 2: 'bilinear', 3: 'bicubic', 4: 'box', 5: 'hamming' } as const satisfies Record<number, PillowFilter>;
export type PilFilter = (typeof PIL_FILTERS)[keyof typeof PIL_FILTERS];

/** `PIL.Image.resize((width, height), resample)` on an 8-bit grey or RGB image. */
export function pilResize(img: Image, width: number, height: number, filter: PilFilter = 'bicubic'): Image {
  assertImage(img, 'resize');
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) throw new ImageError(`resize: invalid target size ${width}×${height}`);
  if (img.channels === 4) throw new ImageError('resize: RGBA images are not supported (convert to RGB first, as CLIPImageProcessor does)');
  return pillowResize(img, width, height, filter);
}
