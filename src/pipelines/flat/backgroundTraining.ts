// Training the learned background decision (learnedBackground.ts) on the rows collectFlatRows records
// (matcherTraining.ts): per line-art region, backgroundFeatures.ts's features and whether most of its
// ground-truth pixels are paper or scenery. Loss: logistic (binary cross-entropy), rows weighted by a power of
// their area, since a leg taken for paper costs far more character pixels than a speck of scenery coloured.
import { createGraph, type Graph } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import type { TrainRng } from '../../train/trainRng.ts';
import { BACKGROUND_FEATURE_COUNT } from './backgroundFeatures.ts';
import type { BackgroundRow } from './matcherTraining.ts';
import { featureStatistics, mlpGraph, trainMlp, weightedLoss, type MlpTrainingOptions, type MlpTrainingResult } from './mlpTraining.ts';
import { mlpShapes } from './smallMlp.ts';

/** The training graph: logits [batch] from standardised features; weighted mean of softplus(z) − y·z. */
export function backgroundTrainingGraph(batch: number, hidden: readonly [number, number]): Graph {
  const g = createGraph('background_train');
  const x = g.input('features', 'f32', [batch, BACKGROUND_FEATURE_COUNT]);
  const z = op.reshape(mlpGraph(x, BACKGROUND_FEATURE_COUNT, hidden), [batch]);
  const y = g.input('is_background', 'f32', [batch]);
  // softplus written so that exp never overflows: max(z, 0) + log(1 + exp(−|z|)).
  const softplus = op.add(op.maximum(z, 0), op.log(op.add(op.exp(op.neg(op.abs(z))), 1)));
  const perRow = op.sub(softplus, op.mul(y, z));
  weightedLoss(g, perRow, batch);
  return g;
}

export interface BackgroundTrainingOptions extends MlpTrainingOptions {
  /**
   * Figure rows weigh this much more than background rows: a figure part taken for paper loses its pixels, while
   * scenery kept in the figure costs a segment only (and still usually becomes paper by matching; match.ts).
   */
  figureWeight?: number;
}

/** Trains the background MLP on `rows`. Deterministic per seed. */
export async function trainBackground(rows: readonly BackgroundRow[], opts: BackgroundTrainingOptions = {}): Promise<MlpTrainingResult> {
  if (!rows.length) throw new Error('flat background decision: no training rows');
  const hidden = opts.hidden ?? [16, 8];
  const batch = opts.batch ?? 128;
  const F = BACKGROUND_FEATURE_COUNT;
  const { mean, std } = featureStatistics(rows.map((r) => r.features), F);
  const features = new Float32Array(batch * F);
  const isBackground = new Float32Array(batch);
  const rowWeight = new Float32Array(batch);
  const areaPower = opts.areaPower ?? 0;
  const figureWeight = opts.figureWeight ?? 1;
  const fillBatch = (rng: TrainRng) => {
    for (let b = 0; b < batch; b++) {
      const r = rows[rng.below(rows.length)];
      for (let f = 0; f < F; f++) features[b * F + f] = (r.features[f] - mean[f]) / std[f];
      isBackground[b] = r.background ? 1 : 0;
      rowWeight[b] = Math.max(1e-4, r.relativeArea) ** areaPower * (r.background ? 1 : figureWeight);
    }
    return { features, is_background: isBackground, row_weight: rowWeight };
  };
  const trained = await trainMlp(backgroundTrainingGraph(batch, hidden), mlpShapes(F, hidden), fillBatch, { ...opts, steps: opts.steps ?? 1500 });
  return { ...trained, mean, std, hidden };
}

/** Area-weighted share of rows decided right (probability above/below 0.5) by `probability`, for logs and tests. */
export function backgroundAccuracy(rows: readonly BackgroundRow[], probability: (features: Float32Array) => number, areaPower = 0): number {
  let ok = 0, total = 0;
  for (const r of rows) {
    const w = Math.max(1e-4, r.relativeArea) ** areaPower;
    total += w;
    if (probability(r.features) > 0.5 === r.background) ok += w;
  }
  return ok / Math.max(1e-12, total);
}
