// Side-by-side and stacked RGB images for sample sheets people look at (white gaps between them).
import type { Image } from '../src/imaging/image.ts';

const GAP = 4;

function toRgb(img: Image, x: number, y: number, out: Uint8Array, outW: number): void {
  for (let r = 0; r < img.height; r++) {
    for (let c = 0; c < img.width; c++) {
      const s = (r * img.width + c) * img.channels;
      const d = ((y + r) * outW + x + c) * 3;
      for (let k = 0; k < 3; k++) out[d + k] = img.data[s + (img.channels >= 3 ? k : 0)];
    }
  }
}

export function hconcat(images: readonly Image[]): Image {
  const width = images.reduce((s, i) => s + i.width, 0) + GAP * (images.length - 1);
  const height = Math.max(...images.map((i) => i.height));
  const data = new Uint8Array(width * height * 3).fill(255);
  let x = 0;
  for (const img of images) {
    toRgb(img, x, 0, data, width);
    x += img.width + GAP;
  }
  return { width, height, channels: 3, data };
}

export function vconcat(images: readonly Image[]): Image {
  const width = Math.max(...images.map((i) => i.width));
  const height = images.reduce((s, i) => s + i.height, 0) + GAP * (images.length - 1);
  const data = new Uint8Array(width * height * 3).fill(255);
  let y = 0;
  for (const img of images) {
    toRgb(img, 0, y, data, width);
    y += img.height + GAP;
  }
  return { width, height, channels: 3, data };
}
