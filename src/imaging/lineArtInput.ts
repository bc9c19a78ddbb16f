// A line-art file as the colouring commands take it: transparency means paper (a line-art PNG with a
// transparent background is drawn on white, not on the black its transparent pixels hold), and a
// drawing with nothing on it — all black, all white, one flat colour — is refused with what it is,
// instead of "no lines: no pixel darker than 128" about an image that is entirely dark.
import { decodeImage, ImageError, type Image } from './image.ts';
import { flattenAlpha } from './lineart.ts';
import type { ImageLimits } from './limits.ts';

/** Grey levels within this spread count as one flat colour (JPEG noise on a blank page). */
const BLANK_SPREAD = 8;

/** Why `img` cannot be line art (undefined when it has something drawn on it). */
export function blankLineArtReason(img: Image): string | undefined {
  let lo = 255;
  let hi = 0;
  const c = img.channels;
  for (let i = 0; i < img.data.length; i += c) {
    const y = c === 1 ? img.data[i] : (img.data[i] * 299 + img.data[i + 1] * 587 + img.data[i + 2] * 114) / 1000;
    if (y < lo) lo = y;
    if (y > hi) hi = y;
  }
  if (hi - lo > BLANK_SPREAD) return undefined;
  const tone = hi < 32 ? 'entirely black' : lo > 223 ? 'entirely white' : `one flat grey (${Math.round(lo)}–${Math.round(hi)})`;
  return `the image is ${tone}, so it has no lines to colour`;
}

/** Decodes line art to RGB over white paper; throws ImageError for a blank image. */
export async function decodeLineArt(bytes: Buffer | Uint8Array, label: string, limits?: ImageLimits): Promise<Image> {
  const rgba = await decodeImage(bytes, 4, label, limits);
  const img = flattenAlpha(rgba);
  const reason = blankLineArtReason(img);
  if (reason) throw new ImageError(`line art ${label} — ${reason} (give dark lines on light paper or white lines on black; a transparent background counts as white)`);
  return img;
}
