import { describe, it, expect } from 'vitest';
import { generateCharacterPair } from './characterSheet.ts';
import { scoreColoring } from './score.ts';
import { createImage } from '../image.ts';

describe('generateCharacterPair', () => {
  it('is deterministic per seed and differs between seeds', () => {
    const a = generateCharacterPair({ seed: 42, width: 256 });
    const b = generateCharacterPair({ seed: 42, width: 256 });
    const c = generateCharacterPair({ seed: 43, width: 256 });
    expect(Buffer.from(a.reference.data).equals(Buffer.from(b.reference.data))).toBe(true);
    expect(Buffer.from(a.targetLineArt.data).equals(Buffer.from(b.targetLineArt.data))).toBe(true);
    expect(Buffer.from(a.reference.data).equals(Buffer.from(c.reference.data))).toBe(false);
  });

  it('gives consistent ground truth: regions exactly on non-line pixels, target colours equal region colours', () => {
    const p = generateCharacterPair({ seed: 5, width: 320 });
    const n = 320 * 320;
    let fg = 0;
    let badRegion = 0;
    let badColour = 0;
    for (let i = 0; i < n; i++) {
      const r = p.targetRegions[i];
      if (r < 0 !== p.targetLineArt.data[i] < 128) badRegion++;
      if (r < 0 || p.targetLineArt.data[i] !== 255) continue;
      const c = p.regionColors[r];
      if (p.target.data[i * 3] !== c[0] || p.target.data[i * 3 + 1] !== c[1] || p.target.data[i * 3 + 2] !== c[2]) badColour++;
      if (!p.regionIsBackground[r]) fg++;
    }
    expect(badRegion).toBe(0);
    expect(badColour).toBe(0);
    expect(fg).toBeGreaterThan(0.1 * n); // a figure, not an empty page
    expect(p.regionColors.length).toBeGreaterThan(20);
    expect(p.palette.length).toBeGreaterThanOrEqual(8);
  });

  it('draws the reference with the same palette and black outlines on white', () => {
    const p = generateCharacterPair({ seed: 6, width: 256 });
    const keys = new Set(p.palette.map(([r, g, b]) => (r << 16) | (g << 8) | b));
    let black = 0;
    for (let i = 0; i < 256 * 256; i++) {
      const k = (p.reference.data[i * 3] << 16) | (p.reference.data[i * 3 + 1] << 8) | p.reference.data[i * 3 + 2];
      if (k === 0) black++;
    }
    expect(black).toBeGreaterThan(500);
    expect(p.reference.data.subarray(0, 3)).toEqual(new Uint8Array([255, 255, 255]));
    expect(keys.has(0xffffff)).toBe(true); // eye whites
  });

  it('supports a target canvas of another size and no pose change', () => {
    const p = generateCharacterPair({ seed: 9, width: 256, targetWidth: 300, targetHeight: 200, poseVariation: 0 });
    expect([p.targetLineArt.width, p.targetLineArt.height, p.targetLineArt.channels]).toEqual([300, 200, 1]);
    expect(p.targetPose.headTilt).toBe(0);
  });
});

describe('scoreColoring', () => {
  it('scores the ground truth as perfect and a recoloured region as wrong', () => {
    const p = generateCharacterPair({ seed: 5, width: 256 });
    const perfect = scoreColoring(p.target, p);
    expect(perfect.segmentAccuracy).toBe(1);
    expect(perfect.segmentAccuracyAll).toBe(1);
    expect(perfect.pixelAccuracy).toBe(1);
    // Paint the largest figure region black: exactly one counted region wrong.
    const area = new Map<number, number>();
    for (const r of p.targetRegions) if (r >= 0 && !p.regionIsBackground[r]) area.set(r, (area.get(r) ?? 0) + 1);
    const [big, bigArea] = [...area.entries()].sort((a, b) => b[1] - a[1])[0];
    const pred = createImage(256, 256, 3);
    pred.data.set(p.target.data);
    for (let i = 0; i < 256 * 256; i++) if (p.targetRegions[i] === big) pred.data.fill(0, i * 3, i * 3 + 3);
    const s = scoreColoring(pred, p);
    expect(s.wrongRegions).toEqual([big]);
    expect(s.segmentAccuracy).toBeCloseTo(1 - 1 / s.regions, 12);
    const nonLine = p.targetRegions.filter((r) => r >= 0).length;
    expect(s.pixelAccuracy).toBeCloseTo(1 - bigArea / nonLine, 12);
  });

  it('rejects a prediction of another size', () => {
    const p = generateCharacterPair({ seed: 5, width: 128 });
    expect(() => scoreColoring(createImage(64, 64, 3), p)).toThrow(/prediction has 4096 pixels/);
  });
});
