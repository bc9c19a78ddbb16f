import { describe, expect, it } from 'vitest';
import { sheetPalette } from './sheetPalette.ts';

describe('sheetPalette', () => {
  it('finds the sheet\'s fill colours by area and skips paper, ink and stray pixels', () => {
    const px: number[][] = [];
    const add = (n: number, c: number[]) => {
      for (let i = 0; i < n; i++) px.push([...c, 255]);
    };
    add(5000, [255, 255, 255]); // paper
    add(800, [10, 10, 10]); // lines
    add(1200, [200, 30, 40]); // red coat
    add(900, [40, 80, 200]); // blue hair
    add(600, [250, 210, 180]); // skin
    add(500, [203, 33, 41]); // the coat again, slightly off: merged
    add(3, [0, 255, 0]); // stray
    const rgba = new Uint8Array(px.flat());
    expect(sheetPalette(rgba)).toEqual(['#c81e28', '#2850c8', '#fad2b4']);
  });
});
