import { describe, it, expect } from 'vitest';
import { createImage } from './image.ts';
import { generateCharacterPair } from './synthetic/characterSheet.ts';
import {
  applyShading, classifyReferencePixels, deltaE, extractPalette, paletteLockRegions, rgbToLab, PaletteError, type Palette,
} from './palette.ts';

const key = (c: ArrayLike<number>): number => (c[0] << 16) | (c[1] << 8) | c[2];

describe('rgbToLab', () => {
  it('matches reference CIELAB values (D65) within 0.05', () => {
    const cases: [number[], number[]][] = [
      [[255, 255, 255], [100, 0, 0]],
      [[0, 0, 0], [0, 0, 0]],
      [[255, 0, 0], [53.2408, 80.0925, 67.2032]],
      [[0, 255, 0], [87.7347, -86.1827, 83.1793]],
      [[0, 0, 255], [32.2970, 79.1875, -107.8602]],
      [[128, 128, 128], [53.5850, 0, 0]],
    ];
    for (const [rgb, lab] of cases) {
      const got = rgbToLab(rgb[0], rgb[1], rgb[2]);
      for (let k = 0; k < 3; k++) expect(Math.abs(got[k] - lab[k])).toBeLessThan(0.05);
    }
  });
});

describe('extractPalette', () => {
  it('recovers exactly the colours a generated character sheet was painted with', () => {
    for (const seed of [3, 4, 5]) {
      const p = generateCharacterPair({ seed, width: 384 });
      const palette = extractPalette(p.reference);
      expect(new Set(palette.colors.map(key))).toEqual(new Set(p.palette.map(key)));
      // Counts are sorted, most frequent first.
      for (let i = 1; i < palette.counts.length; i++) expect(palette.counts[i]).toBeLessThanOrEqual(palette.counts[i - 1]);
    }
  });

  it('keeps interior white (eye whites) but not the border-connected paper', () => {
    const p = generateCharacterPair({ seed: 3, width: 384 });
    const px = classifyReferencePixels(p.reference);
    expect(px.background[0]).toBe(1);
    expect(extractPalette(p.reference).colors.map(key)).toContain(0xffffff);
  });

  it('merges near colours into the more frequent one', () => {
    const img = createImage(40, 40, 3, 255);
    const paint = (x0: number, x1: number, c: number[]): void => {
      for (let y = 5; y < 35; y++) for (let x = x0; x < x1; x++) img.data.set(c, (y * 40 + x) * 3);
    };
    paint(5, 25, [200, 40, 40]);
    paint(25, 35, [203, 42, 40]); // ΔE ≈ 1.5 from the first
    const palette = extractPalette(img);
    expect(palette.colors.map(key)).toEqual([key([200, 40, 40])]);
    expect(palette.counts[0]).toBeGreaterThan(500);
  });

  it('throws PaletteError for a reference without foreground colour', () => {
    expect(() => extractPalette(createImage(32, 32, 3, 255))).toThrow(PaletteError);
    expect(() => extractPalette(createImage(32, 32, 3, 0))).toThrow(/no foreground colour/);
  });
});

describe('paletteLockRegions', () => {
  const palette: Palette = { colors: [[220, 60, 60], [60, 90, 220], [240, 220, 190]], counts: [1, 1, 1] };
  // Two regions: left half 0, right half 1; a shaded, noisy rendering of red / blue.
  const w = 64;
  const h = 32;
  const labels = new Int32Array(w * h);
  const colored = createImage(w, h, 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      labels[i] = x < w / 2 ? 0 : 1;
      const base = palette.colors[labels[i]];
      const shade = 0.55 + 0.45 * (y / (h - 1)); // a vertical shadow gradient
      const noise = ((x * 7 + y * 13) % 11) - 5;
      for (let c = 0; c < 3; c++) colored.data[i * 3 + c] = Math.max(0, Math.min(255, Math.round(base[c] * shade) + noise));
    }
  }

  it('snaps each region to its palette colour despite shading and noise', () => {
    const { locked, regionPalette } = paletteLockRegions(colored, labels, 2, palette);
    expect([...regionPalette]).toEqual([0, 1]);
    for (let i = 0; i < w * h; i++) expect(key(locked.data.subarray(i * 3, i * 3 + 3))).toBe(key(palette.colors[labels[i]]));
  });

  it('returns a shading layer that puts the shading back (within a few levels)', () => {
    const { locked, shading } = paletteLockRegions(colored, labels, 2, palette, { keepShading: true });
    expect(shading).toBeDefined();
    const back = applyShading(locked, shading!);
    let worst = 0;
    for (let i = 0; i < w * h; i++) {
      const a = rgbToLab(back.data[i * 3], back.data[i * 3 + 1], back.data[i * 3 + 2]);
      const b = rgbToLab(colored.data[i * 3], colored.data[i * 3 + 1], colored.data[i * 3 + 2]);
      // Shading is luminance only, so hue noise is not restored; lightness is.
      worst = Math.max(worst, Math.abs(a[0] - b[0]));
    }
    expect(worst).toBeLessThan(3);
    // Darker rows have lower shading values; the brightest rows are near 128 (= unchanged).
    expect(shading!.data[0]).toBeLessThan(shading!.data[(h - 1) * w]);
    expect(Math.abs(shading!.data[(h - 1) * w + 3] - 128)).toBeLessThan(12);
  });

  it('rejects a region map of the wrong size and an empty palette', () => {
    expect(() => paletteLockRegions(colored, new Int32Array(10), 1, palette)).toThrow(/region map has 10 pixels/);
    expect(() => paletteLockRegions(colored, labels, 2, { colors: [], counts: [] })).toThrow(/palette is empty/);
  });

  it('uses ΔE with lightness down-weighted by default', () => {
    expect(deltaE([50, 0, 0], [70, 0, 0], 0.5)).toBeCloseTo(10, 10);
  });
});
