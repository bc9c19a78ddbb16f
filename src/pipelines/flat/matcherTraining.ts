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
import * as op from '../../graph/ops.ts';
import { generateProductionPair } from '../../imaging/synthetic/productionPair.ts';
import { flatColorize } from './colorize.ts';
import { matcherShapes } from './learnedMatcher.ts';
import type { PairCostRound } from './match.ts';
import { PAIR_FEATURE_COUNT, PAIR_FEATURES, pairFeatures } from './matchFeatures.ts';
import { featureStatistics, mlpGraph, trainMlp, weightedLoss, type MlpTrainingOptions, type MlpTrainingResult } from './mlpTraining.ts';
import { backgroundFeatures, BACKGROUND_FEATURE_COUNT } from './backgroundFeatures.ts';
import { backgroundProbability, type BackgroundRound } from './backgroundDecision.ts';
import type { TrainRng } from '../../train/trainRng.ts';

/** Seeds at or above this are held out for evaluation (bench/flat.ts): never trained or tuned on. */
export const HELD_OUT_SEED = 20000;

export interface MatcherRow {
  /** [sheet regions × PAIR_FEATURE_COUNT] */
  features: Float32Array;
  /** 1 where the sheet region's colour is the line-art region's true colour. */
  positive: Uint8Array;
}

/** One line-art region for the background decision: its features and whether it truly is background. */
export interface BackgroundRow {
  /** [BACKGROUND_FEATURE_COUNT] */
  features: Float32Array;
  background: boolean;
  /** Its pixels over the sheet figure's area once aligned (rows weigh by a power of it). */
  relativeArea: number;
}

export interface FlatTrainingRows {
  matcher: MatcherRow[];
  background: BackgroundRow[];
}

/** Rows for both models from the pairs of `seeds`, recorded from one model-free colouring each (see the file comment). Refuses held-out seeds. */
export function collectFlatRows(seeds: readonly number[], log: (line: string) => void = () => {}): FlatTrainingRows {
  const rows: MatcherRow[] = [];
  const background: BackgroundRow[] = [];
  for (const seed of seeds) {
    if (seed >= HELD_OUT_SEED) throw new RangeError(`flat matcher: seed ${seed} is held out (seeds ≥ ${HELD_OUT_SEED} are for evaluation only)`);
    const p = generateProductionPair({ seed });
    const rounds: { candidates: number[]; refIds: number[]; referenceColor: Int32Array; features: Float32Array }[] = [];
    const record = (r: PairCostRound): number[][] => {
      rounds.push({ candidates: [...r.candidates], refIds: [...r.refIds], referenceColor: r.referenceColor, features: pairFeatures(r) });
      return r.hand;
    };
    let decision: { candidates: number[]; features: Float32Array; areaScale: number } | undefined;
    const recordBackground = (r: BackgroundRound): number[] => {
      decision ??= { candidates: [...r.candidates], features: backgroundFeatures(r), areaScale: (r.alignment.s / r.refScale) ** 2 };
      return r.cues.map((c) => backgroundProbability(c));
    };
    const out = flatColorize({ reference: p.reference, lineArt: p.target.lineArt, options: { match: { pairCost: record, backgroundDecision: recordBackground } } });
    const truth = trueRegionColours(out.regions.labels, out.regions.count, p.target.targetRegions, p.target.regionColors, p.target.regionIsBackground);
    const key = (c: readonly number[]): number => (c[0] << 16) | (c[1] << 8) | c[2];
    const paletteKey = out.palette.colors.map(key);
    for (const r of rounds) {
      const nr = r.refIds.length;
      r.candidates.forEach((t, i) => {
        if (truth.colour[t] < 0) return;
        const positive = Uint8Array.from(r.refIds, (j) => (r.referenceColor[j] >= 0 && paletteKey[r.referenceColor[j]] === truth.colour[t] ? 1 : 0));
        if (!positive.includes(1)) return; // the sheet does not show its colour: nothing to rank
        rows.push({ features: r.features.slice(i * nr * PAIR_FEATURE_COUNT, (i + 1) * nr * PAIR_FEATURE_COUNT), positive });
      });
    }
    if (decision) {
      const F = BACKGROUND_FEATURE_COUNT;
      decision.candidates.forEach((t, i) => {
        const [figure, paper] = truth.votes[t];
        if (figure + paper < MIN_LABELLED_PIXELS) return;
        background.push({ features: decision!.features.slice(i * F, (i + 1) * F), background: paper > figure, relativeArea: (figure + paper) * decision!.areaScale });
      });
    }
    log(`seed ${seed}: ${rows.length} matcher rows, ${background.length} background rows so far`);
  }
  return { matcher: rows, background };
}

/** Regions with fewer ground-truth pixels give no background row (their label is mostly line anti-aliasing). */
const MIN_LABELLED_PIXELS = 20;

/** The matcher's rows only (see collectFlatRows). */
export function collectMatcherRows(seeds: readonly number[], log: (line: string) => void = () => {}): MatcherRow[] {
  return collectFlatRows(seeds, log).matcher;
}

/**
 * The true colour (0xRRGGBB) of each line-art region: that of the ground-truth region covering most of its
 * pixels; −1 when that is background (paper, scenery) or the region has no ground-truth pixels. `votes`: its
 * [figure, background] ground-truth pixels.
 */
function trueRegionColours(labels: Int32Array, count: number, gt: Int32Array, colours: readonly (readonly number[])[], isBackground: readonly boolean[]): { colour: Int32Array; votes: [number, number][] } {
  const votes = Array.from({ length: count }, () => new Map<number, number>());
  const split = Array.from({ length: count }, () => [0, 0] as [number, number]);
  for (let i = 0; i < gt.length; i++) {
    const l = labels[i];
    if (l < 0 || gt[i] < 0) continue;
    votes[l].set(gt[i], (votes[l].get(gt[i]) ?? 0) + 1);
    split[l][isBackground[gt[i]] ? 1 : 0]++;
  }
  const colour = Int32Array.from(votes, (v) => {
    let best = -1, n = 0;
    for (const [g, k] of v) if (k > n) { best = g; n = k; }
    if (best < 0 || isBackground[best]) return -1;
    const c = colours[best];
    return (c[0] << 16) | (c[1] << 8) | c[2];
  });
  return { colour, votes: split };
}

/** The training graph: scores [batch, width] from standardised features, listwise loss over each row. */
export function matcherTrainingGraph(batch: number, width: number, hidden: readonly [number, number]): Graph {
  const g = createGraph('flat_matcher_train');
  const x = g.input('features', 'f32', [batch, width, PAIR_FEATURE_COUNT]);
  const scores = op.reshape(mlpGraph(x, PAIR_FEATURE_COUNT, hidden), [batch, width]);
  // Padding columns and negatives get −1e4 added: out of every log-sum-exp that should not see them.
  const logSumExp = (mask: ReturnType<typeof g.input>) => {
    const s = op.add(scores, mask);
    const m = op.reduceMax(s, [1]);
    return op.add(op.reshape(m, [batch]), op.log(op.reduceSum(op.exp(op.sub(s, m)), [1], false)));
  };
  const perRow = op.sub(logSumExp(g.input('all_mask', 'f32', [batch, width])), logSumExp(g.input('positive_mask', 'f32', [batch, width])));
  weightedLoss(g, perRow, batch);
  return g;
}


/** Trains the MLP on `rows` with AdamW (cosine schedule, gradient clipping at 1). Deterministic per seed. */
export async function trainMatcher(rows: readonly MatcherRow[], opts: MlpTrainingOptions = {}): Promise<MlpTrainingResult> {
  if (!rows.length) throw new Error('flat matcher: no training rows');
  const hidden = opts.hidden ?? [32, 16];
  const batch = opts.batch ?? 64;
  const F = PAIR_FEATURE_COUNT;
  const width = Math.ceil(Math.max(...rows.map((r) => r.positive.length)) / 8) * 8;
  const { mean, std } = featureStatistics(rows.map((r) => r.features), F);
  const features = new Float32Array(batch * width * F);
  const allMask = new Float32Array(batch * width);
  const positiveMask = new Float32Array(batch * width);
  const rowWeight = new Float32Array(batch);
  const areaPower = opts.areaPower ?? 0;
  const logArea = PAIR_FEATURES.indexOf('targetLogArea');
  const fillBatch = (rng: TrainRng) => {
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
    return { features, all_mask: allMask, positive_mask: positiveMask, row_weight: rowWeight };
  };
  const trained = await trainMlp(matcherTrainingGraph(batch, width, hidden), matcherShapes(hidden), fillBatch, { ...opts, steps: opts.steps ?? 1500 });
  return { ...trained, mean, std, hidden };
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
