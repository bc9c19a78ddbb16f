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
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_MODELS_ROOT } from '../../models/defaultTextToImage.ts';
import { openSafetensors, SafetensorsError } from '../../weights/safetensors.ts';
import { FlatColorizeError } from './flatError.ts';
import type { PairCostRound } from './match.ts';
import { PAIR_FEATURE_COUNT, PAIR_FEATURES, pairFeatures } from './matchFeatures.ts';

export const MATCHER_FILE = 'matcher.safetensors';
/** Where the shipped matcher lives (models/default/flat-matcher in the repository). */
export const DEFAULT_MATCHER_DIR = resolve(DEFAULT_MODELS_ROOT, 'flat-matcher');

/** Linear layers in order; hidden layers use SiLU. Inputs are standardised with `mean` and `std` first. */
export interface MatcherModel {
  mean: Float32Array;
  std: Float32Array;
  layers: { weight: Float32Array; bias: Float32Array; inF: number; outF: number }[];
}

export const MATCHER_LAYERS = ['fc1', 'fc2', 'out'] as const;

/** Parameter names and shapes of an MLP with hidden widths `hidden` (what training creates and the file holds). */
export function matcherShapes(hidden: readonly [number, number]): Record<string, number[]> {
  const widths = [PAIR_FEATURE_COUNT, hidden[0], hidden[1], 1];
  const shapes: Record<string, number[]> = {};
  MATCHER_LAYERS.forEach((name, k) => {
    shapes[`${name}.weight`] = [widths[k + 1], widths[k]];
    shapes[`${name}.bias`] = [widths[k + 1]];
  });
  return shapes;
}

export function matcherFromParams(params: Readonly<Record<string, Float32Array>>, mean: Float32Array, std: Float32Array): MatcherModel {
  return {
    mean, std,
    layers: MATCHER_LAYERS.map((name) => {
      const weight = params[`${name}.weight`];
      const bias = params[`${name}.bias`];
      return { weight, bias, outF: bias.length, inF: weight.length / bias.length };
    }),
  };
}

let shipped: MatcherModel | undefined;

/** The shipped matcher, read once per process: a server colouring for many users does not reread it per call. */
export function shippedMatcherModel(): MatcherModel {
  shipped ??= loadMatcher(DEFAULT_MATCHER_DIR);
  return shipped;
}

/** Loads `dir`/matcher.safetensors (or a .safetensors path); throws FlatColorizeError saying what is wrong. */
export function loadMatcher(dirOrFile: string = DEFAULT_MATCHER_DIR): MatcherModel {
  const file = dirOrFile.endsWith('.safetensors') ? dirOrFile : join(dirOrFile, MATCHER_FILE);
  if (!existsSync(file)) throw new FlatColorizeError(`learned matcher: no model file at ${file} (train one with \`npx tsx scripts/train-flat-matcher.ts\`, or use the model-free matcher)`);
  let reader;
  try {
    reader = openSafetensors(file);
  } catch (e) {
    throw new FlatColorizeError(`learned matcher: ${file} is not a readable safetensors file: ${(e as Error).message}`);
  }
  try {
    const features = reader.metadata.features;
    if (features !== PAIR_FEATURES.join(',')) {
      throw new FlatColorizeError(`learned matcher: ${file} was trained on features [${features ?? 'none recorded'}], this build computes [${PAIR_FEATURES.join(',')}]; retrain it`);
    }
    const read = (name: string, shape?: number[]): Float32Array => {
      const info = reader.info(name);
      if (shape && info.shape.join('×') !== shape.join('×')) throw new FlatColorizeError(`learned matcher: ${file}: ${name} is ${info.shape.join('×')}, expected ${shape.join('×')}`);
      return reader.readF32(name);
    };
    const hidden = [reader.info('fc1.bias').shape[0], reader.info('fc2.bias').shape[0]] as [number, number];
    const shapes = matcherShapes(hidden);
    const params = Object.fromEntries(Object.entries(shapes).map(([name, shape]) => [name, read(name, shape)]));
    const model = matcherFromParams(params, read('input.mean', [PAIR_FEATURE_COUNT]), read('input.std', [PAIR_FEATURE_COUNT]));
    for (const v of [model.mean, model.std, ...model.layers.flatMap((l) => [l.weight, l.bias])]) {
      if (!v.every(Number.isFinite)) throw new FlatColorizeError(`learned matcher: ${file} holds non-finite weights`);
    }
    return model;
  } catch (e) {
    if (e instanceof SafetensorsError) throw new FlatColorizeError(`learned matcher: ${file}: ${e.message}`);
    throw e;
  } finally {
    reader.close();
  }
}

/** Scores `n` feature rows (row-major, PAIR_FEATURE_COUNT each): higher = the pair's colours more likely agree. */
export function scorePairs(model: MatcherModel, features: Float32Array, n: number): Float32Array {
  const F = PAIR_FEATURE_COUNT;
  const width = Math.max(...model.layers.map((l) => l.outF), F);
  let x = new Float32Array(width);
  let y = new Float32Array(width);
  const out = new Float32Array(n);
  for (let p = 0; p < n; p++) {
    for (let k = 0; k < F; k++) x[k] = (features[p * F + k] - model.mean[k]) / model.std[k];
    model.layers.forEach((l, li) => {
      const last = li === model.layers.length - 1;
      for (let o = 0; o < l.outF; o++) {
        let s = l.bias[o];
        const w = o * l.inF;
        for (let i = 0; i < l.inF; i++) s += l.weight[w + i] * x[i];
        y[o] = last ? s : s / (1 + Math.exp(-s)); // SiLU
      }
      [x, y] = [y, x];
    });
    out[p] = x[0];
  }
  return out;
}

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
