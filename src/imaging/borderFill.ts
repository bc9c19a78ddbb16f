// Model-free foreground for line art: whatever the image border can reach without crossing a line is
// background, everything else (the character, its outline included) is foreground. Small gaps in the
// outline are closed by thickening the lines by k px before the flood fill; the thickening is then
// undone by letting the background grow back up to k px into the band it created (never across a
// real line), so the mask hugs the true outline.
import { assertImage, createImage, ImageError, type Image } from './image.ts';
import { prepareLineArt } from './lineart.ts';
import { assertMask, assertSameSize, createMask, growMask, type Mask } from './masks.ts';

export interface LineMaskOptions {
  /** A pixel is a line when its white-on-black value is > this (default 127). */
  lineThreshold?: number;
}

/** 1 where the drawing has a line (either polarity is accepted, see prepareLineArt), else 0. */
export function lineMaskFromLineArt(lineArt: Image, opts: LineMaskOptions = {}): Mask {
  assertImage(lineArt, 'lineMaskFromLineArt');
  const t = opts.lineThreshold ?? 127;
  if (!Number.isFinite(t) || t < 0 || t >= 255) throw new ImageError(`lineMaskFromLineArt: lineThreshold must be in [0,255), got ${t}`);
  const g = prepareLineArt(lineArt, { channels: 1 });
  const m = createMask(g.width, g.height);
  for (let i = 0; i < m.data.length; i++) m.data[i] = g.data[i] > t ? 1 : 0;
  return m;
}

export interface BorderFillOptions extends LineMaskOptions {
  /** Close outline gaps up to about 2·gapClose px wide (default 2; 0 = no closing). */
  gapClose?: number;
}

/** Foreground mask (1 = character) of a line drawing, by flood fill from the border; see file comment. */
export function foregroundFromLineArt(lineArt: Image, opts: BorderFillOptions = {}): Mask {
  const k = opts.gapClose ?? 2;
  if (!Number.isInteger(k) || k < 0) throw new ImageError(`foregroundFromLineArt: gapClose must be an integer ≥ 0, got ${k}`);
  const lines = lineMaskFromLineArt(lineArt, opts);
  const { width: w, height: h } = lines;
  const n = w * h;
  const thick = k > 0 ? growMask(lines, k) : lines;

  // 0 = unvisited, 1 = background.
  const bg = new Uint8Array(n);
  const queue = new Int32Array(n);
  let head = 0;
  let tail = 0;
  const seed = (i: number) => {
    if (!bg[i] && thick.data[i] === 0) {
      bg[i] = 1;
      queue[tail++] = i;
    }
  };
  for (let x = 0; x < w; x++) {
    seed(x);
    seed((h - 1) * w + x);
  }
  for (let y = 0; y < h; y++) {
    seed(y * w);
    seed(y * w + w - 1);
  }
  while (head < tail) {
    const i = queue[head++];
    const x = i % w;
    if (x > 0) seed(i - 1);
    if (x < w - 1) seed(i + 1);
    if (i >= w) seed(i - w);
    if (i < n - w) seed(i + w);
  }

  if (k > 0) {
    // Undo the thickening: breadth-first from the background, k steps (8-connected, matching the
    // square dilation), through pixels that are in the band but not on a real line.
    const dist = new Int32Array(n).fill(-1);
    head = 0;
    tail = 0;
    for (let i = 0; i < n; i++) {
      if (bg[i]) {
        dist[i] = 0;
        queue[tail++] = i;
      }
    }
    while (head < tail) {
      const i = queue[head++];
      if (dist[i] >= k) continue;
      const x = i % w;
      const y = (i - x) / w;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= w) continue;
          const j = yy * w + xx;
          if (dist[j] >= 0 || lines.data[j] !== 0) continue;
          dist[j] = dist[i] + 1;
          bg[j] = 1;
          queue[tail++] = j;
        }
      }
    }
  }
  const fg = createMask(w, h);
  for (let i = 0; i < n; i++) fg.data[i] = bg[i] ? 0 : 1;
  return fg;
}

/** Background (mask 0) to white: out = img·m + 255·(1 − m) per colour channel; alpha is kept. */
export function clearBackground(img: Image, mask: Mask): Image {
  assertImage(img, 'clearBackground');
  assertMask(mask, 'clearBackground');
  assertSameSize(img, mask, 'clearBackground');
  const out = createImage(img.width, img.height, img.channels);
  const c = img.channels;
  const colour = c === 4 ? 3 : c;
  for (let i = 0; i < mask.data.length; i++) {
    const m = Math.min(1, Math.max(0, mask.data[i]));
    for (let k = 0; k < c; k++) {
      const v = img.data[i * c + k];
      out.data[i * c + k] = k < colour ? Math.round(v * m + 255 * (1 - m)) : v;
    }
  }
  return out;
}
