// The learned background decision: a small MLP (smallMlp.ts) over backgroundFeatures.ts's features that gives
// each line-art region its probability of being background (paper or scenery), in place of the hand-fitted
// logistic model of backgroundDecision.ts. Trained by scripts/train-flat-matcher.ts with the matcher, on the
// same recorded colourings (backgroundTraining.ts); shipped beside it in models/default/flat-matcher.
import { join } from 'node:path';
import type { BackgroundRound } from './backgroundDecision.ts';
import { BACKGROUND_FEATURES, backgroundFeatures } from './backgroundFeatures.ts';
import { DEFAULT_MATCHER_DIR, learnedPairCost, shippedMatcherModel } from './learnedMatcher.ts';
import type { MatchOptions } from './match.ts';
import { loadMlp, mlpScores, type MlpModel } from './smallMlp.ts';

export const BACKGROUND_FILE = 'background.safetensors';

/** Loads `dir`/background.safetensors (or a .safetensors path); throws FlatColorizeError saying what is wrong. */
export function loadBackgroundModel(dirOrFile: string = DEFAULT_MATCHER_DIR): MlpModel {
  const file = dirOrFile.endsWith('.safetensors') ? dirOrFile : join(dirOrFile, BACKGROUND_FILE);
  return loadMlp(file, BACKGROUND_FEATURES, 'learned background decision', 'train one with `npx tsx scripts/train-flat-matcher.ts`, or use the model-free matcher');
}

let shipped: MlpModel | undefined;

/** The shipped background model, read once per process. */
export function shippedBackgroundModel(): MlpModel {
  shipped ??= loadBackgroundModel();
  return shipped;
}

/** The `backgroundDecision` hook of MatchOptions: the model's probability of background per candidate. */
export function learnedBackgroundDecision(model: MlpModel): (r: BackgroundRound) => Float64Array {
  return (r) => {
    const n = r.candidates.length;
    if (!n) return new Float64Array(0);
    const logits = mlpScores(model, backgroundFeatures(r), n);
    return Float64Array.from(logits, (z) => 1 / (1 + Math.exp(-z)));
  };
}

/** Match options for the learned path with the shipped models: the matcher's pair costs and this background decision. */
export function shippedLearnedMatching(): MatchOptions {
  return { pairCost: learnedPairCost(shippedMatcherModel()), backgroundDecision: learnedBackgroundDecision(shippedBackgroundModel()) };
}
