import { describe, it, expect } from 'vitest';
import { createImage, type Image } from './image.ts';
import { blueprintFromColour, canny, detectLinePolarity, flattenAlpha, invert, prepareLineArt, xdogLines } from './lineart.ts';

/** A w×h grey image with background `bg` and a filled square [x0,x1)×[y0,y1) of value `fg`. */
function square(w: number, h: number, bg: number, fg: number, x0: number, y0: number, x1: number, y1: number, channels: 1 | 3 = 1): Image {
  const img = createImage(w, h, channels, bg);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) for (let c = 0; c < channels; c++) img.data[(y * w + x) * channels + c] = fg;
  return img;
}

/** Dark 2-px outline of a rectangle on white: a typical scanned drawing. */
function drawing(bgValue: number, lineValue: number): Image {
  const img = createImage(40, 30, 3, bgValue);
  for (let y = 5; y < 25; y++) {
    for (let x = 5; x < 35; x++) {
      const onLine = y < 7 || y >= 23 || x < 7 || x >= 33;
      if (onLine) img.data.fill(lineValue, (y * 40 + x) * 3, (y * 40 + x) * 3 + 3);
    }
  }
  return img;
}

describe('line art polarity and inversion', () => {
  it('dark lines on white → white lines on black; already white-on-black is left alone', () => {
    const dark = drawing(250, 10);
    expect(detectLinePolarity(dark)).toBe('dark-on-light');
    const prepared = prepareLineArt(dark);
    expect(prepared.channels).toBe(3);
    expect(prepared.data[0]).toBe(5); // background 250 → 5
    expect(prepared.data[(5 * 40 + 5) * 3]).toBe(245); // line 10 → 245
    const light = drawing(0, 255);
    expect(detectLinePolarity(light)).toBe('light-on-dark');
    expect(Array.from(prepareLineArt(light, { channels: 1 }).data.slice(0, 3))).toEqual([0, 0, 0]);
  });

  it('transparent PNG line art counts as drawn on white paper', () => {
    const img = createImage(10, 10, 4, 0); // fully transparent black
    img.data.set([0, 0, 0, 255], 0); // one opaque black pixel
    expect(flattenAlpha(img).data[3]).toBe(255);
    expect(detectLinePolarity(img)).toBe('dark-on-light');
  });

  it('invert keeps alpha and is its own inverse', () => {
    const img = createImage(2, 1, 4);
    img.data.set([1, 2, 3, 4, 250, 251, 252, 253]);
    const inv = invert(img);
    expect(Array.from(inv.data)).toEqual([254, 253, 252, 4, 5, 4, 3, 253]);
    expect(Array.from(invert(inv).data)).toEqual(Array.from(img.data));
  });

  it('blueprintFromColour gives white outline on black for a filled shape', () => {
    const bp = blueprintFromColour(square(32, 32, 230, 40, 8, 8, 24, 24, 3));
    expect(bp.channels).toBe(3);
    const at = (x: number, y: number) => bp.data[(y * 32 + x) * 3];
    expect(at(2, 2)).toBe(0); // flat background
    expect(at(16, 16)).toBe(0); // flat interior
    expect(at(8, 16)).toBe(255); // dark side of the left edge
  });
});

describe('canny', () => {
  it('finds the four edges of a synthetic square and nothing else', () => {
    const img = square(64, 64, 0, 200, 16, 16, 48, 48);
    const e = canny(img, 100, 200);
    const edge = (x: number, y: number) => e.data[y * 64 + x] === 255;
    // Every point along each side has an edge pixel within one pixel of the step.
    for (let t = 18; t < 46; t++) {
      expect(edge(15, t) || edge(16, t), `left ${t}`).toBe(true);
      expect(edge(47, t) || edge(48, t), `right ${t}`).toBe(true);
      expect(edge(t, 15) || edge(t, 16), `top ${t}`).toBe(true);
      expect(edge(t, 47) || edge(t, 48), `bottom ${t}`).toBe(true);
    }
    // Thin (NMS): one pixel wide across each side; nothing far from the square's outline.
    let count = 0;
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 64; x++) {
        if (!edge(x, y)) continue;
        count++;
        const nearX = Math.min(Math.abs(x - 15.5), Math.abs(x - 47.5));
        const nearY = Math.min(Math.abs(y - 15.5), Math.abs(y - 47.5));
        expect(Math.min(nearX, nearY)).toBeLessThanOrEqual(1);
      }
    }
    expect(count).toBeLessThan(4 * 34 * 1.5);
    // Above the largest L1 magnitude (|dx| + |dy| ≤ 2·4·200 at a corner) nothing survives.
    expect(canny(img, 1700, 1800).data.every((v) => v === 0)).toBe(true);
  });

  it('hysteresis: weak edges survive only when connected to a strong one', () => {
    // Left half step of 60 (weak), right half step of 200 (strong), along one continuous row boundary.
    const img = createImage(40, 20, 1, 0);
    for (let y = 10; y < 20; y++) for (let x = 0; x < 40; x++) img.data[y * 40 + x] = x < 20 ? 60 : 200;
    const connected = canny(img, 100, 500);
    expect(connected.data[9 * 40 + 5] === 255 || connected.data[10 * 40 + 5] === 255).toBe(true);
    const alone = createImage(40, 20, 1, 0);
    for (let y = 10; y < 20; y++) for (let x = 0; x < 40; x++) alone.data[y * 40 + x] = 60;
    expect(canny(alone, 100, 500).data.every((v) => v === 0)).toBe(true);
  });

  it('rejects bad thresholds and blur sizes', () => {
    const img = square(8, 8, 0, 255, 2, 2, 6, 6);
    expect(() => canny(img, -1, 10)).toThrow(/thresholds/);
    expect(() => canny(img, 10, 20, { blurSize: 4 })).toThrow(/blurSize/);
  });
});

describe('xdogLines', () => {
  it('draws a line along a dark/light boundary and leaves flat regions black', () => {
    const img = square(48, 48, 255, 30, 16, 16, 32, 32, 3);
    const lines = xdogLines(img);
    expect(lines.channels).toBe(1);
    expect(lines.data[4 * 48 + 4]).toBe(0); // flat paper
    expect(lines.data[24 * 48 + 24]).toBe(0); // flat dark interior
    const edgeMax = Math.max(...[14, 15, 16, 17].map((x) => lines.data[24 * 48 + x]));
    expect(edgeMax).toBeGreaterThan(200);
    expect(() => xdogLines(img, { sigma: 0 })).toThrow(/sigma/);
  });
});
