import { describe, it, expect } from 'vitest';
import { createImage, type Image } from './image.ts';
import { clearBackground, foregroundFromLineArt, lineMaskFromLineArt } from './borderFill.ts';
import { createMask } from './masks.ts';

/** Black 1-px circle outline (radius 12) on white 40×40 paper, with an optional gap on the right. */
function circle(gap: number): Image {
  const img = createImage(40, 40, 3, 255);
  for (let a = 0; a < 2000; a++) {
    const t = (a / 2000) * 2 * Math.PI;
    const x = Math.round(20 + 12 * Math.cos(t));
    const y = Math.round(20 + 12 * Math.sin(t));
    if (x > 30 && Math.abs(y - 20) < gap / 2) continue;
    img.data.fill(0, (y * 40 + x) * 3, (y * 40 + x) * 3 + 3);
  }
  return img;
}

const at = (m: { data: Float32Array }, x: number, y: number) => m.data[y * 40 + x];

describe('foregroundFromLineArt', () => {
  it('closed outline: interior and outline are foreground, outside is background', () => {
    const fg = foregroundFromLineArt(circle(0));
    expect(at(fg, 20, 20)).toBe(1);
    expect(at(fg, 32, 20)).toBe(1); // the outline itself
    expect(at(fg, 2, 2)).toBe(0);
    expect(at(fg, 34, 20)).toBe(0); // just outside: the thickening was undone
    const lines = lineMaskFromLineArt(circle(0));
    // Foreground is exactly the disc: every pixel inside radius 11 is fg, every one beyond 13.5 is bg.
    for (let y = 0; y < 40; y++) for (let x = 0; x < 40; x++) {
      const r = Math.hypot(x - 20, y - 20);
      if (r < 11) expect(at(fg, x, y)).toBe(1);
      if (r > 13.5) expect(at(fg, x, y)).toBe(0);
      if (lines.data[y * 40 + x]) expect(at(fg, x, y)).toBe(1);
    }
  });

  it('a 3-px gap leaks without closing and is closed with gapClose 2', () => {
    expect(at(foregroundFromLineArt(circle(3), { gapClose: 0 }), 20, 20)).toBe(0);
    const closed = foregroundFromLineArt(circle(3), { gapClose: 2 });
    expect(at(closed, 20, 20)).toBe(1);
    expect(at(closed, 25, 20)).toBe(1);
  });

  it('white-on-black line art works the same', () => {
    const img = circle(0);
    for (let i = 0; i < img.data.length; i++) img.data[i] = 255 - img.data[i];
    expect(Array.from(foregroundFromLineArt(img).data)).toEqual(Array.from(foregroundFromLineArt(circle(0)).data));
  });

  it('rejects bad options', () => {
    expect(() => foregroundFromLineArt(circle(0), { gapClose: -1 })).toThrow(/gapClose/);
    expect(() => foregroundFromLineArt(circle(0), { lineThreshold: 300 })).toThrow(/lineThreshold/);
  });
});

describe('clearBackground', () => {
  it('whitens mask-0 pixels, keeps mask-1 pixels, blends soft values, keeps alpha', () => {
    const img = createImage(3, 1, 4);
    img.data.set([10, 20, 30, 40, 10, 20, 30, 40, 100, 100, 100, 7]);
    const m = createMask(3, 1);
    m.data.set([1, 0, 0.5]);
    expect(Array.from(clearBackground(img, m).data)).toEqual([10, 20, 30, 40, 255, 255, 255, 40, 178, 178, 178, 7]);
    expect(() => clearBackground(img, createMask(2, 1))).toThrow(/sizes differ/);
  });
});
