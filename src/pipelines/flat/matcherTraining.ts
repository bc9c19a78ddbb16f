// Training the flat colouriser's learned matcher (pipelines/flat/learnedMatcher.ts) on generated production
// pairs, with the training engine: the MLP's graph is differentiated by graph/autodiff, run by ORT, and
// updated by AdamW.
// Examples: the model-free matcher colours each pair; in every assignment round each candidate line-art region
// gives one row — the features of its pairs with every sheet region — and the sheet regions whose palette
// colour is the region's true colour are its positives (regions that are truly background give no row: the
// background decision stays the hand-fitted model's). Loss per row: −log of the softmax mass on the positives
// (any sheet region of the right colour is a right answer), so the model learns to rank a row, which is how
// its scores are used.
import { createGraph, type Graph } from '../../graph/graph.ts';
import * as nn from '../../graph/nn.ts';
import * as op from '../../graph/ops.ts';
import { memoryWeights } from '../../graph/weights.ts';
import { generateProductionPair } from '../../imaging/synthetic/productionPair.ts';
import { flatColorize } from './colorize.ts';
import { MATCHER_LAYERS, matcherShapes } from './learnedMatcher.ts';
import type { PairCostRound } from './match.ts';
import { PAIR_FEATURE_COUNT, PAIR_FEATURES, pairFeatures } from './matchFeatures.ts';
import { clipGradNorm } from '../../train/gradients.ts';
import { initParams } from '../../train/initParams.ts';
import { learningRate } from '../../train/lrSchedule.ts';
import { createOptimizerState, optimizerStep } from '../../train/optimizer.ts';
import { compileTraining } from '../../train/trainingGraph.ts';
import { createTrainRng } from '../../train/trainRng.ts';

/** Seeds at or above this are held out for evaluation (bench/flat.ts): never trained or tuned on. */
export const HELD_OUT_SEED = 20000;

export interface MatcherRow {
  /** [sheet regions × PAIR_FEATURE_COUNT] */
  features: Float32Array;
  /** 1 where the sheet region's colour is the line-art region's true colour. */
  positive: Uint8Array;
}

/** Rows from the pairs of `seeds` (see the file comment). Refuses held-out seeds. */
export function collectMatcherRows(seeds: readonly number[], log: (line: string) => void = () => {}): MatcherRow[] {
  const rows: MatcherRow[] = [];
  for (const seed of seeds) {
    if (seed >= HELD_OUT_SEED) throw new RangeError(`flat matcher: seed ${seed} is held out (seeds ≥ ${HELD_OUT_SEED} are for evaluation only)`);
    const p = generateProductionPair({ seed });
    const rounds: { candidates: number[]; refIds: number[]; referenceColor: Int32Array; features: Float32Array }[] = [];
    const record = (r: PairCostRound): number[][] => {
      rounds.push({ candidates: [...r.candidates], refIds: [...r.refIds], referenceColor: r.referenceColor, features: pairFeatures(r) });
      return r.hand;
    };
    const out = flatColorize({ reference: p.reference, lineArt: p.target.lineArt, options: { match: { pairCost: record } } });
    const truth = trueRegionColours(out.regions.labels, out.regions.count, p.target.targetRegions, p.target.regionColors, p.target.regionIsBackground);
    const key = (c: readonly number[]): number => (c[0] << 16) | (c[1] << 8) | c[2];
    const paletteKey = out.palette.colors.map(key);
    for (const r of rounds) {
      const nr = r.refIds.length;
      r.candidates.forEach((t, i) => {
        if (truth[t] < 0) return;
        const positive = Uint8Array.from(r.refIds, (j) => (r.referenceColor[j] >= 0 && paletteKey[r.referenceColor[j]] === truth[t] ? 1 : 0));
        if (!positive.includes(1)) return; // the sheet does not show its colour: nothing to rank
        rows.push({ features: r.features.slice(i * nr * PAIR_FEATURE_COUNT, (i + 1) * nr * PAIR_FEATURE_COUNT), positive });
      });
    }
    log(`seed ${seed}: ${rows.length} rows so far`);
  }
  return rows;
}

/**
 * The true colour (0xRRGGBB) of each line-art region: that of the ground-truth region covering most of its
 * pixels; −1 when that is background (paper, scenery) or the region has no ground-truth pixels.
 */
function trueRegionColours(labels: Int32Array, count: number, gt: Int32Array, colours: readonly (readonly number[])[], isBackground: readonly boolean[]): Int32Array {
  const votes = Array.from({ length: count }, () => new Map<number, number>());
  for (let i = 0; i < gt.length; i++) {
    const l = labels[i];
    if (l < 0 || gt[i] < 0) continue;
    votes[l].set(gt[i], (votes[l].get(gt[i]) ?? 0) + 1);
  }
  return Int32Array.from(votes, (v) => {
    let best = -1, n = 0;
    for (const [g, k] of v) if (k > n) { best = g; n = k; }
    if (best < 0 || isBackground[best]) return -1;
    const c = colours[best];
    return (c[0] << 16) | (c[1] << 8) | c[2];
  });
}

/** Mean and standard deviation of each feature over all rows (the model's input standardisation). */
export function featureStatistics(rows: readonly MatcherRow[]): { mean: Float32Array; std: Float32Array } {
  const F = PAIR_FEATURE_COUNT;
  const sum = new Float64Array(F), sq = new Float64Array(F);
  let n = 0;
  for (const r of rows) {
    for (let p = 0; p < r.positive.length; p++) {
      for (let k = 0; k < F; k++) {
        const v = r.features[p * F + k];
        sum[k] += v;
        sq[k] += v * v;
      }
      n++;
    }
  }
  const mean = Float32Array.from(sum, (s) => s / Math.max(1, n));
  const std = Float32Array.from(sq, (s, k) => Math.sqrt(Math.max(0, s / Math.max(1, n) - mean[k] ** 2)) || 1);
  return { mean, std };
}

/** The training graph: scores [batch, width] from standardised features, listwise loss over each row. */
export function matcherTrainingGraph(batch: number, width: number, hidden: readonly [number, number]): Graph {
  const g = createGraph('flat_matcher_train');
  const x = g.input('features', 'f32', [batch, width, PAIR_FEATURE_COUNT]);
  const widths = [PAIR_FEATURE_COUNT, hidden[0], hidden[1], 1];
  let h = x;
  MATCHER_LAYERS.forEach((name, k) => {
    h = nn.linear(h, name, widths[k], widths[k + 1]);
    if (k < MATCHER_LAYERS.length - 1) h = nn.silu(h);
  });
  const scores = op.reshape(h, [batch, width]);
  // Padding columns and negatives get −1e4 added: out of every log-sum-exp that should not see them.
  const logSumExp = (mask: ReturnType<typeof g.input>) => {
    const s = op.add(scores, mask);
    const m = op.reduceMax(s, [1]);
    return op.add(op.reshape(m, [batch]), op.log(op.reduceSum(op.exp(op.sub(s, m)), [1], false)));
  };
  const perRow = op.sub(logSumExp(g.input('all_mask', 'f32', [batch, width])), logSumExp(g.input('positive_mask', 'f32', [batch, width])));
  const weight = g.input('row_weight', 'f32', [batch]);
  g.output('loss', op.div(op.reduceSum(op.mul(perRow, weight), [0], false), op.reduceSum(weight, [0], false)));
  return g;
}

export interface MatcherTrainingOptions {
  hidden?: [number, number];
  steps?: number;
  batch?: number;
  lr?: number;
  /**
   * Rows weigh (region area / sheet figure area)^areaPower: 0 counts every region alike (segment accuracy),
   * 1 weighs by pixels (character-pixel accuracy).
   */
  areaPower?: number;
  seed?: number;
  threads?: number;
  log?: (line: string) => void;
}

export interface MatcherTrainingResult {
  params: Record<string, Float32Array>;
  mean: Float32Array;
  std: Float32Array;
  hidden: [number, number];
  /** Mean loss of each logged window of steps (every 50 steps and the last). */
  losses: { step: number; loss: number }[];
}

/** Trains the MLP on `rows` with AdamW (cosine schedule, gradient clipping at 1). Deterministic per seed. */
export async function trainMatcher(rows: readonly MatcherRow[], opts: MatcherTrainingOptions = {}): Promise<MatcherTrainingResult> {
  if (!rows.length) throw new Error('flat matcher: no training rows');
  const hidden = opts.hidden ?? [32, 16];
  const steps = opts.steps ?? 1500;
  const batch = opts.batch ?? 64;
  const log = opts.log ?? (() => {});
  const F = PAIR_FEATURE_COUNT;
  const width = Math.ceil(Math.max(...rows.map((r) => r.positive.length)) / 8) * 8;
  const { mean, std } = featureStatistics(rows);
  const forward = matcherTrainingGraph(batch, width, hidden);
  const shapes = matcherShapes(hidden);
  const names = Object.keys(shapes).sort();
  const model = await compileTraining(forward, 'loss', names, memoryWeights({}), { threads: opts.threads ?? 1, cacheDir: false, weightStorage: 'f32' });
  const rng = createTrainRng(opts.seed ?? 0);
  const params = initParams(forward, rng);
  const optimizer = { name: 'adamw' as const, weightDecay: 1e-4 };
  const state = createOptimizerState(optimizer, params);
  const schedule = { name: 'cosine' as const, lr: opts.lr ?? 3e-3, warmupSteps: Math.min(50, steps >> 3), totalSteps: steps };
  const features = new Float32Array(batch * width * F);
  const allMask = new Float32Array(batch * width);
  const positiveMask = new Float32Array(batch * width);
  const rowWeight = new Float32Array(batch);
  const areaPower = opts.areaPower ?? 0;
  const logArea = PAIR_FEATURES.indexOf('targetLogArea');
  const losses: { step: number; loss: number }[] = [];
  let windowLoss = 0, windowSteps = 0;
  try {
    for (let step = 0; step < steps; step++) {
      features.fill(0);
      allMask.fill(-1e4);
      positiveMask.fill(-1e4);
      for (let b = 0; b < batch; b++) {
        const r = rows[rng.below(rows.length)];
        rowWeight[b] = Math.exp(areaPower * r.features[logArea]);
        for (let k = 0; k < r.positive.length; k++) {
          const o = (b * width + k) * F;
          for (let f = 0; f < F; f++) features[o + f] = (r.features[k * F + f] - mean[f]) / std[f];
          allMask[b * width + k] = 0;
          if (r.positive[k]) positiveMask[b * width + k] = 0;
        }
      }
      const out = await model.step(params, { features, all_mask: allMask, positive_mask: positiveMask, row_weight: rowWeight });
      if (!Number.isFinite(out.loss)) throw new Error(`flat matcher: loss is ${out.loss} at step ${step}`);
      clipGradNorm(out.grads, 1);
      optimizerStep(optimizer, state, params, out.grads, learningRate(schedule, step));
      windowLoss += out.loss;
      windowSteps++;
      if ((step + 1) % 50 === 0 || step === steps - 1) {
        losses.push({ step: step + 1, loss: windowLoss / windowSteps });
        log(`step ${step + 1}/${steps}: loss ${(windowLoss / windowSteps).toFixed(4)}`);
        windowLoss = 0;
        windowSteps = 0;
      }
    }
  } finally {
    await model.release();
  }
  return { params, mean, std, hidden, losses };
}

/** Share of rows whose top-scoring sheet region has the right colour, scored with `score` (for logs and tests). */
export function rowAccuracy(rows: readonly MatcherRow[], score: (features: Float32Array, n: number) => Float32Array): number {
  let ok = 0;
  for (const r of rows) {
    const s = score(r.features, r.positive.length);
    let best = 0;
    for (let k = 1; k < s.length; k++) if (s[k] > s[best]) best = k;
    if (r.positive[best]) ok++;
  }
  return ok / Math.max(1, rows.length);
}
