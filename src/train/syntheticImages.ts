// Training images from inkflow's synthetic character generator (imaging/synthetic): flat-coloured
// figures with black outlines on white, the kind of picture the bundled default models work on.
// Seeds decide everything, so a training run and its held-out evaluation never share a picture:
// training draws seeds below HELD_OUT_SEED_BASE, evaluation uses seeds from it upward.
import type { Image } from '../imaging/image.ts';
import { generateCharacterPair } from '../imaging/synthetic/characterSheet.ts';

/** Seeds ≥ this are never drawn by training (evaluation sets live here). */
export const HELD_OUT_SEED_BASE = 5_000_000;

/** One coloured character picture of `size`²: the sheet pose or a varied pose, optionally mirrored. */
export function syntheticCharacterImage(seed: number, size: number, view: 'sheet' | 'pose', mirror = false): Image {
  const pair = generateCharacterPair({ seed, width: size });
  const img = view === 'sheet' ? pair.reference : pair.target;
  return mirror ? mirrorImage(img) : img;
}

export function mirrorImage(img: Image): Image {
  const { width: w, height: h, channels: c } = img;
  const data = new Uint8Array(img.data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * c;
      const d = (y * w + (w - 1 - x)) * c;
      for (let k = 0; k < c; k++) data[d + k] = img.data[s + k];
    }
  }
  return { ...img, data };
}

/** RGB image → planar [3, H, W] floats in [-1, 1] written at `out[offset…]` (the VAE's input range). */
export function writeImageChw(img: Image, out: Float32Array, offset: number): void {
  const plane = img.width * img.height;
  const c = img.channels;
  if (c < 3) {
    for (let i = 0; i < plane; i++) out[offset + i] = out[offset + plane + i] = out[offset + 2 * plane + i] = img.data[i * c] / 127.5 - 1;
    return;
  }
  for (let i = 0; i < plane; i++) {
    for (let k = 0; k < 3; k++) out[offset + k * plane + i] = img.data[i * c + k] / 127.5 - 1;
  }
}

/** Planar [3, H, W] floats in [-1, 1] at `data[offset…]` → 8-bit RGB (x/2 + 0.5, clamped, rounded). */
export function chwToImage(data: Float32Array, offset: number, width: number, height: number): Image {
  const plane = width * height;
  const out = new Uint8Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let k = 0; k < 3; k++) {
      const v = (data[offset + k * plane + i] / 2 + 0.5) * 255;
      out[i * 3 + k] = v <= 0 || Number.isNaN(v) ? 0 : v >= 255 ? 255 : Math.round(v);
    }
  }
  return { width, height, channels: 3, data: out };
}
