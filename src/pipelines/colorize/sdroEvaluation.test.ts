// The held-out scoring the bundled SDRO model's card reports: raw PSNR/SSIM, and after palette lock
// PSNR/SSIM plus segment accuracy, checked on the ground truth itself and on the colour-transfer baseline.
import { describe, expect, it } from 'vitest';
import { generateCharacterPair } from '../../imaging/synthetic/characterSheet.ts';
import { labMeanStdTransfer } from '../../imaging/colorTransfer.ts';
import { meanScores, scoreAgainst } from './sdroEvaluation.ts';
import { lockToPalette } from './colorizeLineArt.ts';

describe('SDRO held-out scoring', () => {
  const pair = generateCharacterPair({ seed: 5_001_000, width: 128 });
  const truth = scoreAgainst(pair.target, pair);
  const baseline = scoreAgainst(labMeanStdTransfer(pair.targetLineArt, pair.reference), pair);

  it('gives the ground truth perfect raw scores and keeps it close after palette lock', () => {
    expect(truth.psnr).toBe(100);
    expect(truth.ssim).toBeCloseTo(1, 6);
    // Lock redraws the lines from the line art and snaps each region to the sheet's palette: near, not equal.
    expect(truth.lockedPsnr).toBeGreaterThan(25);
    expect(truth.lockedSsim).toBeGreaterThan(0.9);
    expect(truth.segmentAccuracy).toBeGreaterThan(0.5);
  });

  it('scores the grey-ish global colour transfer below the truth on every measure', () => {
    for (const k of ['psnr', 'ssim', 'lockedPsnr', 'lockedSsim', 'segmentAccuracy'] as const) expect(baseline[k]).toBeLessThan(truth[k]);
  });

  it('averages every field', () => {
    const m = meanScores([truth, baseline]);
    for (const k of Object.keys(truth) as (keyof typeof truth)[]) expect(m[k]).toBeCloseTo((truth[k] + baseline[k]) / 2, 12);
  });
});

describe('palette lock on a sheet with white paper', () => {
  it('keeps the page around the figure paper-white instead of snapping it to a character colour', () => {
    const pair = generateCharacterPair({ seed: 5_001_001, width: 128 });
    const locked = lockToPalette(pair.target, pair.targetLineArt, pair.reference, false);
    const corner = Array.from(locked.image.data.subarray(0, 3));
    expect(corner).toEqual([255, 255, 255]);
    expect((locked.settings.paletteLock as { colors: number[][] }).colors).toContainEqual([255, 255, 255]);
  });
});
