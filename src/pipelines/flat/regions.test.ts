import { describe, it, expect } from 'vitest';
import { createImage, type Image } from '../../imaging/image.ts';
import { segmentLineArt } from './regions.ts';
import { FlatColorizeError } from './flatError.ts';

/** 200×120 paper: a 3 px frame (10..189 × 10..109) split by a 3 px wall at x 99..101 with a `gap` px break. */
function twoRooms(gap: number): Image {
  const img = createImage(200, 120, 1, 255);
  const ink = (x: number, y: number): void => {
    img.data[y * 200 + x] = 0;
  };
  for (let y = 10; y < 110; y++) {
    for (let x = 10; x < 190; x++) {
      const frame = x < 13 || x >= 187 || y < 13 || y >= 107;
      const wall = x >= 99 && x <= 101 && !(y >= 58 && y < 58 + gap);
      if (frame || wall) ink(x, y);
    }
  }
  return img;
}

const LEFT = 60 * 200 + 50;
const RIGHT = 60 * 200 + 150;
const OUTSIDE = 5 * 200 + 5;

describe('segmentLineArt', () => {
  it('separates two closed rooms and the paper around them', () => {
    const r = segmentLineArt(twoRooms(0));
    expect(r.count).toBe(3);
    expect(r.labels[LEFT]).not.toBe(r.labels[RIGHT]);
    expect(r.touchesBorder[r.labels[OUTSIDE]]).toBe(true);
    expect(r.touchesBorder[r.labels[LEFT]]).toBe(false);
  });

  for (const gap of [1, 2, 3]) {
    it(`closes a ${gap} px break in a wall (trapped ball, default radius 2)`, () => {
      const r = segmentLineArt(twoRooms(gap));
      expect(r.labels[LEFT]).not.toBe(r.labels[RIGHT]);
      expect(r.count).toBe(3);
      // Without gap closing the rooms leak into each other: the break is real.
      const open = segmentLineArt(twoRooms(gap), { gapRadius: 0 });
      expect(open.labels[LEFT]).toBe(open.labels[RIGHT]);
      expect(open.count).toBe(2);
    });
  }

  it('does not close a break wider than the ball', () => {
    const r = segmentLineArt(twoRooms(12));
    expect(r.labels[LEFT]).toBe(r.labels[RIGHT]);
  });

  it('gives every line pixel a neighbouring region (no holes in the flat layer)', () => {
    const r = segmentLineArt(twoRooms(2));
    for (let i = 0; i < r.labels.length; i++) expect(r.labels[i]).toBeGreaterThanOrEqual(0);
    // Wall pixels belong to one of the two rooms they separate.
    const wall = 30 * 200 + 100;
    expect(r.line[wall]).toBe(1);
    expect([r.labels[LEFT], r.labels[RIGHT]]).toContain(r.labels[wall]);
  });

  it('inverts white-on-black line art automatically', () => {
    const img = twoRooms(0);
    // Mostly dark: paint the paper black and the lines white.
    for (let i = 0; i < img.data.length; i++) img.data[i] = 255 - img.data[i];
    const r = segmentLineArt(img);
    expect(r.inverted).toBe(true);
    expect(r.count).toBe(3);
    expect(r.labels[LEFT]).not.toBe(r.labels[RIGHT]);
  });

  it('rejects line art without lines with a clear error', () => {
    expect(() => segmentLineArt(createImage(64, 64, 1, 255))).toThrow(FlatColorizeError);
    expect(() => segmentLineArt(createImage(64, 64, 3, 255))).toThrow(/no lines/);
  });

  it('rejects something that is not an image', () => {
    expect(() => segmentLineArt({ width: 4, height: 4, channels: 1, data: new Uint8Array(3) })).toThrow(/expected 4×4×1/);
    expect(() => segmentLineArt(null as unknown as Image)).toThrow(/not an image/);
  });
});
