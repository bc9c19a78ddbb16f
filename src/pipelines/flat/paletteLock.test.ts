import { describe, it, expect } from 'vitest';
import { createImage } from '../../imaging/image.ts';
import { extractPalette } from '../../imaging/palette.ts';
import { generateCharacterPair } from '../../imaging/synthetic/characterSheet.ts';
import { scoreColoring } from '../../imaging/synthetic/score.ts';
import { paletteLock } from './paletteLock.ts';

describe('paletteLock', () => {
  it('turns a shaded, off-palette colouring back into the exact sheet colours', () => {
    const p = generateCharacterPair({ seed: 8, width: 384 });
    const palette = extractPalette(p.reference);
    // A "diffusion-like" result: ground truth with a lighting gradient, a colour cast and noise.
    const noisy = createImage(384, 384, 3);
    for (let y = 0; y < 384; y++) {
      for (let x = 0; x < 384; x++) {
        const i = y * 384 + x;
        const light = 0.75 + 0.25 * (x / 383);
        for (let c = 0; c < 3; c++) {
          const v = p.target.data[i * 3 + c] * light + (c === 2 ? 6 : 0) + (((x * 31 + y * 17 + c * 7) % 9) - 4);
          noisy.data[i * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
        }
      }
    }
    const before = scoreColoring(noisy, p).pixelAccuracyForeground;
    const { locked, shading } = paletteLock(noisy, p.targetLineArt, palette, { keepShading: true });
    const after = scoreColoring(locked, p);
    console.log(`figure pixel accuracy ${before.toFixed(4)} → ${after.pixelAccuracyForeground.toFixed(4)}, segment accuracy ${after.segmentAccuracy.toFixed(4)}`);
    expect(before).toBeLessThan(0.05);
    expect(after.segmentAccuracyForeground).toBeGreaterThanOrEqual(0.95);
    expect(after.pixelAccuracyForeground).toBeGreaterThanOrEqual(0.97);
    expect(shading?.width).toBe(384);
  });

  it('rejects a coloured image and line art of different sizes', () => {
    const p = generateCharacterPair({ seed: 8, width: 256 });
    expect(() => paletteLock(createImage(128, 128, 3), p.targetLineArt, extractPalette(p.reference))).toThrow(/128×128 but line art is 256×256/);
  });
});
