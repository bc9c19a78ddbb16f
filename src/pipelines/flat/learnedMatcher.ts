// The learned matcher: a small MLP (matchFeatures.ts's features → one score per pair) trained by
// scripts/train-flat-matcher.ts with inkflow's training engine. Inference is plain TypeScript — a few
// thousand weights, evaluated on a few thousand pairs per round, cost less than opening an ORT session.
// Its scores over a row (one line-art region against every sheet region) become the probability of each
// sheet colour (softmax mass on that colour's regions, as it was trained), whose −log is added to the hand
// cost with weight `blend`: 0 is the model-free matcher, a large blend leaves the colour to the model while the
// hand cost still picks which of that colour's regions. Tuning seeds 100–139 (model trained on 2000–2149):
//   blend 2, per region, from round 0:                 segments 89.6 → 90.7 %, character px 94.0 → 94.2 %
//   … with the row's best cost kept, from round 1:     90.7 %, 94.6 %
//   … per colour (the default):                        90.9 %, 95.0 %   (blend 1: 90.8 / 94.6; 4: 91.0 / 95.0)
// From round 1: round 0 has no neighbour colours, and the background decision reads round 0's colouring (from
// round 0 on, 0.7 points more of the figure went to background). The row's best cost is kept: it is what
// background (paper) and sharing a colour compete with.
import { join, resolve } from 'node:path';
import { DEFAULT_MODELS_ROOT } from '../../models/defaultTextToImage.ts';
import type { PairCostRound } from './match.ts';
import { PAIR_FEATURE_COUNT, PAIR_FEATURES, pairFeatures } from './matchFeatures.ts';
import { loadMlp, mlpFromParams, mlpScores, mlpShapes, type MlpModel } from './smallMlp.ts';

export const MATCHER_FILE = 'matcher.safetensors';
/** Where the shipped matcher lives (models/default/flat-matcher in the repository). */
export const DEFAULT_MATCHER_DIR = resolve(DEFAULT_MODELS_ROOT, 'flat-matcher');

export type MatcherModel = MlpModel;

/** Parameter names and shapes of the matcher with hidden widths `hidden` (what training creates and the file holds). */
export function matcherShapes(hidden: readonly [number, number]): Record<string, number[]> {
  return mlpShapes(PAIR_FEATURE_COUNT, hidden);
}

export const matcherFromParams = mlpFromParams;

let shipped: MatcherModel | undefined;

/** The shipped matcher, read once per process: a server colouring for many users does not reread it per call. */
export function shippedMatcherModel(): MatcherModel {
  shipped ??= loadMatcher(DEFAULT_MATCHER_DIR);
  return shipped;
}

/** Loads `dir`/matcher.safetensors (or a .safetensors path); throws FlatColorizeError saying what is wrong. */
export function loadMatcher(dirOrFile: string = DEFAULT_MATCHER_DIR): MatcherModel {
  const file = dirOrFile.endsWith('.safetensors') ? dirOrFile : join(dirOrFile, MATCHER_FILE);
  return loadMlp(file, PAIR_FEATURES, 'learned matcher', 'train one with `npx tsx scripts/train-flat-matcher.ts`, or use the model-free matcher');
}

/** Scores `n` feature rows (row-major, PAIR_FEATURE_COUNT each): higher = the pair's colours more likely agree. */
export const scorePairs = mlpScores;

/** Negative log-softmax of each row of scores ([rows × cols]). */
export function rowNll(scores: Float32Array, rows: number, cols: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < rows; i++) {
    let m = -Infinity;
    for (let k = 0; k < cols; k++) m = Math.max(m, scores[i * cols + k]);
    let z = 0;
    for (let k = 0; k < cols; k++) z += Math.exp(scores[i * cols + k] - m);
    const lse = m + Math.log(z);
    out.push(Array.from({ length: cols }, (_, k) => lse - scores[i * cols + k]));
  }
  return out;
}

/**
 * −log of the softmax mass on each column's colour ([rows × columns], `colours` per column): every sheet region of
 * one colour gets the same cost, so which of them a region takes is left to the hand cost (as training scores a row).
 */
export function colourNll(scores: Float32Array, rows: number, colours: readonly number[]): number[][] {
  const cols = colours.length;
  const nll = rowNll(scores, rows, cols);
  return nll.map((row) => {
    const mass = new Map<number, number>();
    row.forEach((v, k) => mass.set(colours[k], (mass.get(colours[k]) ?? 0) + Math.exp(-v)));
    return row.map((_, k) => -Math.log(mass.get(colours[k])!));
  });
}

/** Default weight of the model's cost against the hand cost (chosen on tuning seeds; see the model card). */
export const DEFAULT_MATCHER_BLEND = 2;

/** First round the model's cost is used in (round 0 has no neighbour colours yet; see the file comment). */
const FROM_ROUND = 1;

/** The `pairCost` hook of MatchOptions: hand cost + blend · −log P(colour) by the model (see the file comment). */
export function learnedPairCost(model: MatcherModel, blend = DEFAULT_MATCHER_BLEND): (r: PairCostRound) => number[][] {
  return (r) => {
    if (r.round < FROM_ROUND) return r.hand;
    const rows = r.candidates.length;
    const cols = r.refIds.length;
    if (!rows || !cols) return r.hand;
    const scores = scorePairs(model, pairFeatures(r), rows * cols);
    const nll = colourNll(scores, rows, r.refIds.map((j) => r.referenceColor[j]));
    return r.hand.map((row, i) => {
      const blended = row.map((c, k) => c + blend * nll[i][k]);
      // The row's best cost stays the hand cost's best: it is what background (paper) and sharing compete with.
      const shift = Math.min(...blended) - Math.min(...row);
      return blended.map((c) => c - shift);
    });
  };
}
