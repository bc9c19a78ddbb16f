// The learned background decision: the shipped model loads and decides, the hook really decides which regions are
// background, and a missing or mismatched model file is refused with a clear error.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateProductionPair } from '../../imaging/synthetic/productionPair.ts';
import { writeSafetensors } from '../../weights/safetensors.ts';
import { BACKGROUND_FEATURE_COUNT, backgroundFeatures } from './backgroundFeatures.ts';
import { flatColorize } from './colorize.ts';
import { FlatColorizeError } from './flatError.ts';
import { BACKGROUND_FILE, learnedBackgroundDecision, loadBackgroundModel } from './learnedBackground.ts';
import { mlpShapes } from './smallMlp.ts';

describe('learned flat background decision', () => {
  it('the shipped model gives a probability per candidate region, from finite features', () => {
    const model = loadBackgroundModel();
    expect(model.mean.length).toBe(BACKGROUND_FEATURE_COUNT);
    const p = generateProductionPair({ seed: 11 });
    let seen = 0;
    const decide = learnedBackgroundDecision(model);
    const out = flatColorize({
      reference: p.reference, lineArt: p.target.lineArt, options: {
        match: {
          backgroundDecision: (r) => {
            expect(backgroundFeatures(r).every(Number.isFinite)).toBe(true);
            const probability = decide(r);
            expect(probability.length).toBe(r.candidates.length);
            expect(probability.every((v) => v >= 0 && v <= 1)).toBe(true);
            seen = r.candidates.length;
            return probability;
          },
        },
      },
    });
    expect(seen).toBeGreaterThan(10);
    expect([...out.regions.paletteIndex].filter((c) => c >= 0).length).toBeGreaterThan(10);
  });

  it('the hook decides: every candidate called background leaves nothing coloured', () => {
    const p = generateProductionPair({ seed: 11 });
    const out = flatColorize({ reference: p.reference, lineArt: p.target.lineArt, options: { match: { backgroundDecision: (r) => r.candidates.map(() => 1) } } });
    expect([...out.regions.paletteIndex].every((c) => c === -1)).toBe(true);
  });

  it('says clearly when the model file is missing or made for other features', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inkflow-background-'));
    try {
      expect(() => loadBackgroundModel(join(dir, 'nowhere'))).toThrow(FlatColorizeError);
      expect(() => loadBackgroundModel(join(dir, 'nowhere'))).toThrow(/learned background decision: no model file at .*train-flat-matcher/);
      const shapes = mlpShapes(2, [4, 2]);
      const tensors = Object.entries(shapes).map(([name, shape]) => ({ name, dtype: 'F32' as const, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }));
      await writeSafetensors(join(dir, BACKGROUND_FILE), tensors, { features: 'bestCost,border' });
      expect(() => loadBackgroundModel(dir)).toThrow(/trained on features \[bestCost,border\].*retrain/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
