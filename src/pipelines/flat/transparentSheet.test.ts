// A transparent character sheet must colour exactly as the same sheet flattened onto white paper: alpha decides
// what is background, whatever RGB a drawing app leaves under fully transparent pixels.
import { describe, it, expect } from 'vitest';
import { createImage, type Image } from '../../imaging/image.ts';
import { generateProductionPair } from '../../imaging/synthetic/productionPair.ts';
import { createRng } from '../../imaging/synthetic/random.ts';
import { flatColorize } from './colorize.ts';

/** The RGBA sheet composited over white (what an RGB export of it would be). */
function onWhite(sheet: Image): Image {
  const out = createImage(sheet.width, sheet.height, 3);
  for (let i = 0; i < sheet.width * sheet.height; i++) {
    const a = sheet.data[i * 4 + 3] / 255;
    for (let q = 0; q < 3; q++) out.data[i * 3 + q] = Math.round(sheet.data[i * 4 + q] * a + 255 * (1 - a));
  }
  return out;
}

/** The same sheet with random colours under its fully transparent pixels (apps keep stale RGB there). */
function withStaleRgb(sheet: Image, seed: number): Image {
  const rng = createRng(seed);
  const out = { ...sheet, data: Uint8Array.from(sheet.data) };
  for (let i = 0; i < sheet.width * sheet.height; i++) {
    if (out.data[i * 4 + 3] !== 0) continue;
    for (let q = 0; q < 3; q++) out.data[i * 4 + q] = rng.int(0, 255);
  }
  return out;
}

// Seed 2004 (tuning range) has a transparent sheet; its target is cropped, with scenery.
describe('flatColorize with a transparent sheet', () => {
  const p = generateProductionPair({ seed: 2004 });

  it('colours as the sheet flattened onto white does, stale RGB under the transparency included', () => {
    expect(p.tags).toContain('transparentSheet');
    expect(p.reference.channels).toBe(4);
    const flat = flatColorize({ reference: onWhite(p.reference), lineArt: p.target.lineArt }).flat.data;
    expect(Buffer.from(flatColorize({ reference: p.reference, lineArt: p.target.lineArt }).flat.data).equals(Buffer.from(flat))).toBe(true);
    expect(Buffer.from(flatColorize({ reference: withStaleRgb(p.reference, 7), lineArt: p.target.lineArt }).flat.data).equals(Buffer.from(flat))).toBe(true);
  });
});
