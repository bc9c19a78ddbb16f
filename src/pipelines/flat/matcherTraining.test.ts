// The learned flat matcher's training (src/pipelines/flat/matcherTraining.ts): a tiny model trained for a few steps on
// rows from two generated pairs lowers its loss, and its hook changes which sheet regions the matcher picks.
import { describe, expect, it } from 'vitest';
import { generateProductionPair } from '../../imaging/synthetic/productionPair.ts';
import { flatColorize } from './colorize.ts';
import { learnedPairCost, matcherFromParams, scorePairs } from './learnedMatcher.ts';
import { PAIR_FEATURE_COUNT } from './matchFeatures.ts';
import { backgroundAccuracy, trainBackground } from './backgroundTraining.ts';
import { BACKGROUND_FEATURE_COUNT } from './backgroundFeatures.ts';
import { collectFlatRows, collectMatcherRows, HELD_OUT_SEED, rowAccuracy, trainMatcher } from './matcherTraining.ts';
import { mlpFromParams, mlpScores } from './smallMlp.ts';

describe('flat matcher training', () => {
  it('records rows with positives from generated pairs, and refuses held-out seeds', () => {
    expect(() => collectMatcherRows([HELD_OUT_SEED])).toThrow(/held out/);
  });

  it('trains a tiny MLP with the training engine: the loss falls and the hook changes the matching', async () => {
    const rows = collectMatcherRows([5, 6]);
    expect(rows.length).toBeGreaterThan(50);
    for (const r of rows.slice(0, 20)) {
      expect(r.features.length).toBe(r.positive.length * PAIR_FEATURE_COUNT);
      expect(r.positive.includes(1)).toBe(true);
    }
    const trained = await trainMatcher(rows, { hidden: [8, 4], steps: 150, batch: 16, lr: 1e-2, seed: 3 });
    const first = trained.losses[0].loss;
    const last = trained.losses[trained.losses.length - 1].loss;
    expect(last).toBeLessThan(0.7 * first);
    const model = matcherFromParams(trained.params, trained.mean, trained.std);
    // It ranks the rows it was trained on better than chance (a row has ~50 sheet regions, a few positives).
    expect(rowAccuracy(rows, (f, n) => scorePairs(model, f, n))).toBeGreaterThan(0.6);

    const p = generateProductionPair({ seed: 7 });
    const plain = flatColorize({ reference: p.reference, lineArt: p.target.lineArt });
    const steered = flatColorize({ reference: p.reference, lineArt: p.target.lineArt, options: { match: { pairCost: learnedPairCost(model, 50) } } });
    expect(steered.regions.count).toBe(plain.regions.count);
    const changed = plain.regions.paletteIndex.filter((c, r) => c !== steered.regions.paletteIndex[r]).length;
    expect(changed).toBeGreaterThan(0);
  }, 120_000);

  it('trains a tiny background decision: rows of both kinds, the loss falls, it decides most pixels right', async () => {
    const { background } = collectFlatRows([5, 6]);
    expect(background.length).toBeGreaterThan(30);
    expect(background.some((r) => r.background)).toBe(true);
    expect(background.some((r) => !r.background)).toBe(true);
    for (const r of background) expect(r.features.length).toBe(BACKGROUND_FEATURE_COUNT);
    const trained = await trainBackground(background, { hidden: [8, 4], steps: 150, batch: 32, lr: 1e-2, seed: 3, areaPower: 1 });
    expect(trained.losses[trained.losses.length - 1].loss).toBeLessThan(0.7 * trained.losses[0].loss);
    const model = mlpFromParams(trained.params, trained.mean, trained.std);
    const probability = (f: Float32Array) => 1 / (1 + Math.exp(-mlpScores(model, f, 1)[0]));
    expect(backgroundAccuracy(background, probability, 1)).toBeGreaterThan(0.9);
  }, 120_000);

  it('the pair-cost hook decides the assignment: a cost that favours one sheet colour gives every candidate that colour', () => {
    const p = generateProductionPair({ seed: 7 });
    let wanted = -1;
    const out = flatColorize({
      reference: p.reference, lineArt: p.target.lineArt, options: {
        match: {
          pairCost: (r) => {
            wanted = r.referenceColor[r.refIds[0]];
            return r.hand.map((row) => row.map((c, k) => (r.referenceColor[r.refIds[k]] === wanted ? 0 : c + 100)));
          },
        },
      },
    });
    expect(wanted).toBeGreaterThanOrEqual(0);
    const coloured = [...out.regions.paletteIndex].filter((c) => c >= 0);
    expect(coloured.length).toBeGreaterThan(5);
    expect(coloured.every((c) => c === wanted)).toBe(true);
  });
});
