// Loading the shipped learned matcher (models/default/flat-matcher) and the errors for a missing or bad file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateProductionPair } from '../../imaging/synthetic/productionPair.ts';
import { writeSafetensors } from '../../weights/safetensors.ts';
import { flatColorize } from './colorize.ts';
import { FlatColorizeError } from './flatError.ts';
import { DEFAULT_MATCHER_DIR, learnedPairCost, loadMatcher, MATCHER_FILE, matcherShapes, rowNll, scorePairs } from './learnedMatcher.ts';
import { PAIR_FEATURE_COUNT } from './matchFeatures.ts';

describe('learned flat matcher files', () => {
  it('loads the shipped model, which colours a generated pair', () => {
    const model = loadMatcher(DEFAULT_MATCHER_DIR);
    expect(model.mean.length).toBe(PAIR_FEATURE_COUNT);
    const scores = scorePairs(model, new Float32Array(3 * PAIR_FEATURE_COUNT).fill(0.5), 3);
    expect(scores.every(Number.isFinite)).toBe(true);
    const p = generateProductionPair({ seed: 11 });
    const out = flatColorize({ reference: p.reference, lineArt: p.target.lineArt, options: { match: { pairCost: learnedPairCost(model) } } });
    expect([...out.regions.paletteIndex].filter((c) => c >= 0).length).toBeGreaterThan(10);
  });

  it('turns scores into a row-wise negative log-softmax', () => {
    const nll = rowNll(Float32Array.of(0, Math.log(3)), 1, 2);
    expect(nll[0][0]).toBeCloseTo(Math.log(4), 5);
    expect(nll[0][1]).toBeCloseTo(Math.log(4 / 3), 5);
  });

  it('says clearly when the model file is missing, not safetensors, or made for other features', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inkflow-matcher-'));
    try {
      expect(() => loadMatcher(join(dir, 'nowhere'))).toThrow(FlatColorizeError);
      expect(() => loadMatcher(join(dir, 'nowhere'))).toThrow(/no model file at .*train-flat-matcher/);
      writeFileSync(join(dir, MATCHER_FILE), 'not a model at all');
      expect(() => loadMatcher(dir)).toThrow(/not a readable safetensors file/);
      const shapes = matcherShapes([4, 2]);
      const tensors = Object.entries(shapes).map(([name, shape]) => ({ name, dtype: 'F32' as const, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }));
      await writeSafetensors(join(dir, MATCHER_FILE), tensors, { features: 'position,area' });
      expect(() => loadMatcher(dir)).toThrow(/trained on features \[position,area\].*retrain/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
