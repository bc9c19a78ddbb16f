import { describe, it, expect } from 'vitest';
import { createImage, ImageError, type Image } from '../../imaging/image.ts';
import { generateCharacterPair } from '../../imaging/synthetic/characterSheet.ts';
import { scoreColoring } from '../../imaging/synthetic/score.ts';
import { flatColorize } from './colorize.ts';
import { FlatColorizeError } from './flatError.ts';

function colorsOf(img: Image): Set<number> {
  const s = new Set<number>();
  for (let i = 0; i < img.width * img.height; i++) s.add((img.data[i * 3] << 16) | (img.data[i * 3 + 1] << 8) | img.data[i * 3 + 2]);
  return s;
}

describe('flatColorize', () => {
  const seeds = [11, 22, 33, 44, 55, 66];
  const pairs = seeds.map((seed) => generateCharacterPair({ seed, width: 384 }));

  it('colours generated character pairs with high segment accuracy', () => {
    const scores = pairs.map((p) => scoreColoring(flatColorize({ reference: p.reference, lineArt: p.targetLineArt }).flat, p));
    const mean = scores.reduce((a, s) => a + s.segmentAccuracy, 0) / scores.length;
    const pixel = scores.reduce((a, s) => a + s.pixelAccuracyForeground, 0) / scores.length;
    console.log(`segment accuracy ${mean.toFixed(4)}, figure pixel accuracy ${pixel.toFixed(4)} on seeds ${seeds.join(',')}`);
    expect(mean).toBeGreaterThanOrEqual(0.85);
    expect(pixel).toBeGreaterThanOrEqual(0.95);
  });

  it('uses only the reference palette (plus the background colour) in the flat layer', () => {
    for (const p of pairs.slice(0, 3)) {
      const out = flatColorize({ reference: p.reference, lineArt: p.targetLineArt, options: { background: [1, 2, 3] } });
      const allowed = new Set(out.palette.colors.map(([r, g, b]) => (r << 16) | (g << 8) | b));
      allowed.add((1 << 16) | (2 << 8) | 3);
      for (const c of colorsOf(out.flat)) expect(allowed.has(c)).toBe(true);
      // The extracted palette is the sheet's own: every colour exactly one the generator used.
      const truth = new Set(p.palette.map(([r, g, b]) => (r << 16) | (g << 8) | b));
      for (const c of out.palette.colors) expect(truth.has((c[0] << 16) | (c[1] << 8) | c[2])).toBe(true);
    }
  });

  it('composite keeps the lines: dark where the line art is dark, the flat colour elsewhere', () => {
    const p = pairs[0];
    const out = flatColorize({ reference: p.reference, lineArt: p.targetLineArt });
    for (let i = 0; i < p.targetLineArt.data.length; i += 97) {
      const k = p.targetLineArt.data[i];
      if (k === 0) expect(out.composite.data[i * 3]).toBe(0);
      if (k === 255) expect(out.composite.data[i * 3]).toBe(out.flat.data[i * 3]);
    }
  });

  it('accepts a reference and line art of different sizes (output has the line art size)', () => {
    const p = generateCharacterPair({ seed: 77, width: 300, height: 360, targetWidth: 448, targetHeight: 400 });
    const out = flatColorize({ reference: p.reference, lineArt: p.targetLineArt });
    expect([out.flat.width, out.flat.height]).toEqual([448, 400]);
    expect(scoreColoring(out.flat, p).segmentAccuracy).toBeGreaterThanOrEqual(0.8);
  });

  it('rejects line art without lines', () => {
    const p = pairs[0];
    expect(() => flatColorize({ reference: p.reference, lineArt: createImage(128, 128, 1, 255) })).toThrow(FlatColorizeError);
    expect(() => flatColorize({ reference: p.reference, lineArt: createImage(128, 128, 1, 255) })).toThrow(/no lines/);
  });

  it('rejects a reference with no coloured foreground (blank, or only lines)', () => {
    const p = pairs[0];
    expect(() => flatColorize({ reference: createImage(128, 128, 3, 255), lineArt: p.targetLineArt })).toThrow(/no foreground/);
    const onlyLines = createImage(128, 128, 3, 255);
    for (let x = 10; x < 100; x++) onlyLines.data.fill(0, (50 * 128 + x) * 3, (50 * 128 + x) * 3 + 3);
    expect(() => flatColorize({ reference: onlyLines, lineArt: p.targetLineArt })).toThrow(FlatColorizeError);
    const transparent = createImage(64, 64, 4, 0);
    expect(() => flatColorize({ reference: transparent, lineArt: p.targetLineArt })).toThrow(/no foreground/);
  });

  it('rejects inputs that are not images', () => {
    const p = pairs[0];
    expect(() => flatColorize({ reference: { width: 2, height: 2, channels: 3, data: new Uint8Array(5) }, lineArt: p.targetLineArt })).toThrow(ImageError);
    expect(() => flatColorize({ reference: p.reference, lineArt: 'line.png' as unknown as Image })).toThrow(/line art: not an image/);
  });
});

describe('flatColorize on production-style line art', () => {
  it('colours cropped, mirrored and scenery shots from a (transparent) sheet, reporting uncertain regions', async () => {
    const { generateProductionPair } = await import('../../imaging/synthetic/productionPair.ts');
    // Tuning-range seeds; held-out numbers come from bench/flat.ts (seeds 20000+).
    const scores = [104, 110, 117].map((seed) => {
      const p = generateProductionPair({ seed });
      const out = flatColorize({ reference: p.reference, lineArt: p.target.lineArt });
      expect(out.uncertain.width).toBe(p.target.lineArt.width);
      expect(out.regions.confidence.length).toBe(out.regions.count);
      return scoreColoring(out.flat, p.target);
    });
    const seg = scores.reduce((a, s) => a + s.segmentAccuracy, 0) / scores.length;
    const px = scores.reduce((a, s) => a + s.pixelAccuracyForeground, 0) / scores.length;
    console.log(`production pairs sheet → pose: segment accuracy ${seg.toFixed(4)}, character pixels ${px.toFixed(4)}`);
    expect(seg).toBeGreaterThanOrEqual(0.85);
    expect(px).toBeGreaterThanOrEqual(0.95);
  });

  it('never returns a silently uncoloured result: a tiny line art gets warnings that say why', () => {
    const p = generateCharacterPair({ seed: 11, width: 256 });
    const tiny = createImage(37, 23, 1, 255);
    for (let x = 5; x < 30; x++) tiny.data[5 * 37 + x] = tiny.data[17 * 37 + x] = 0;
    for (let y = 5; y < 18; y++) tiny.data[y * 37 + 5] = tiny.data[y * 37 + 29] = 0;
    const out = flatColorize({ reference: p.reference, lineArt: tiny });
    expect(out.warnings.some((w) => /37×23/.test(w))).toBe(true);
    const coloured = [...out.regions.paletteIndex].some((c) => c >= 0);
    if (!coloured) expect(out.warnings.some((w) => /no region .* matched/.test(w))).toBe(true);
  });

  it('accepts black lines on a transparent layer', () => {
    const p = generateCharacterPair({ seed: 22, width: 320 });
    const layer = createImage(320, 320, 4, 0);
    for (let i = 0; i < 320 * 320; i++) layer.data[i * 4 + 3] = 255 - p.targetLineArt.data[i];
    const out = flatColorize({ reference: p.reference, lineArt: layer });
    const plain = flatColorize({ reference: p.reference, lineArt: p.targetLineArt });
    expect(scoreColoring(out.flat, p).segmentAccuracy).toBeCloseTo(scoreColoring(plain.flat, p).segmentAccuracy, 5);
  });
});
