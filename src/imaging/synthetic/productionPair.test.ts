import { describe, it, expect } from 'vitest';
import { rgbToLab } from '../palette.ts';
import { asLineLayer, generateProductionPair } from './productionPair.ts';

describe('generateProductionPair', () => {
  const p = generateProductionPair({ seed: 3, targetWidth: 512, targetHeight: 288, width: 384 });

  it('is deterministic per seed', () => {
    const q = generateProductionPair({ seed: 3, targetWidth: 512, targetHeight: 288, width: 384 });
    expect(Buffer.from(q.target.lineArt.data).equals(Buffer.from(p.target.lineArt.data))).toBe(true);
    expect(Buffer.from(q.reference.data).equals(Buffer.from(p.reference.data))).toBe(true);
    const r = generateProductionPair({ seed: 4, targetWidth: 512, targetHeight: 288, width: 384 });
    expect(Buffer.from(r.target.lineArt.data).equals(Buffer.from(p.target.lineArt.data))).toBe(false);
  });

  it('gives ground truth on exactly the non-line pixels, with colour-trace lines in the line art only', () => {
    const { lineArt, colored, targetRegions, regionFrameColors } = p.target;
    let blue = 0;
    let badColour = 0;
    for (let i = 0; i < targetRegions.length; i++) {
      const [r, g, b] = [lineArt.data[i * 3], lineArt.data[i * 3 + 1], lineArt.data[i * 3 + 2]];
      if (b - Math.max(r, g) > 100) blue++;
      const reg = targetRegions[i];
      if (reg < 0 || Math.min(r, g, b) < 255) continue;
      const c = regionFrameColors[reg];
      if (colored.data[i * 3] !== c[0] || colored.data[i * 3 + 1] !== c[1] || colored.data[i * 3 + 2] !== c[2]) badColour++;
    }
    expect(blue).toBeGreaterThan(20); // shadow boundaries are drawn in blue
    expect(badColour).toBe(0);
    // The finished frame paints trace lines over: no blue line pixels in it.
    let blueInColored = 0;
    for (let i = 0; i < targetRegions.length; i++) if (colored.data[i * 3 + 2] - Math.max(colored.data[i * 3], colored.data[i * 3 + 1]) > 200) blueInColored++;
    expect(blueInColored).toBe(0);
  });

  it('marks scenery as background for the sheet task but keeps its colours for frame to frame', () => {
    const withScenery = [0, 1, 2, 3, 4, 5].map((s) => generateProductionPair({ seed: 100 + s, targetWidth: 384, targetHeight: 216, width: 256 })).find((q) => q.tags.includes('scenery'));
    expect(withScenery).toBeDefined();
    const f = withScenery!.target;
    const scenery = f.regionParts.map((name, k) => (name.startsWith('scenery:') ? k : -1)).filter((k) => k >= 0);
    expect(scenery.length).toBeGreaterThan(0);
    for (const k of scenery) {
      expect(f.regionIsBackground[k]).toBe(true);
      expect(f.regionColors[k]).toEqual([255, 255, 255]);
    }
    expect(scenery.some((k) => f.regionFrameColors[k].join() !== '255,255,255')).toBe(true);
  });

  it('moves the next frame a little, not a lot', () => {
    let changed = 0;
    const a = p.target.lineArt.data;
    const b = p.next.lineArt.data;
    for (let i = 0; i < a.length; i += 3) if (Math.abs(a[i] - b[i]) > 64) changed++;
    const frac = changed / (a.length / 3);
    expect(frac).toBeGreaterThan(0.001);
    expect(frac).toBeLessThan(0.15);
  });

  it('turns line art into a black-on-transparent layer that composites back to it', () => {
    const layer = asLineLayer(p.target.lineArt);
    expect(layer.channels).toBe(4);
    let worst = 0;
    for (let i = 0; i < layer.width * layer.height; i++) {
      const a = layer.data[i * 4 + 3];
      for (let c = 0; c < 3; c++) {
        const over = 255 - (a * (255 - layer.data[i * 4 + c])) / 255;
        worst = Math.max(worst, Math.abs(over - p.target.lineArt.data[i * 3 + c]));
      }
    }
    expect(worst).toBeLessThanOrEqual(2);
  });
});

describe('generateProductionPair pupils', () => {
  it('draws pupils in a colour of their own, never as dark as the outline (Lab L ≥ 27)', () => {
    let pupils = 0;
    for (let seed = 0; seed < 10; seed++) {
      const q = generateProductionPair({ seed, targetWidth: 768, targetHeight: 432, width: 384 });
      const k = q.target.regionParts.indexOf('pupil');
      if (k < 0) continue; // too small to survive the outline at this size
      pupils++;
      const [r, g, b] = q.target.regionColors[k];
      expect(rgbToLab(r, g, b)[0]).toBeGreaterThanOrEqual(26.5);
      expect(q.palette.map((c) => c.join())).toContain([r, g, b].join());
    }
    expect(pupils).toBeGreaterThanOrEqual(6);
  });
});
