// `npx tsx scripts/train-flat-matcher.ts [--seed N] [--first-seed S] [--pairs P] [--steps K] [--out DIR]`:
// reproduces the flat colouriser's learned matcher and background decision (models/default/flat-matcher) from a
// seed. Generates production pairs S … S+P−1 (all below 20000: seeds ≥ 20000 are held out), records the model-free
// matcher's rounds and background decision (src/pipelines/flat/matcherTraining.ts), trains both MLPs with the
// training engine (ORT training graph, AdamW) and writes matcher.safetensors, background.safetensors and README.md
// (the model card). The last tenth of the pairs is kept out of training to report accuracy. Minutes on two cores;
// run it under the heavy lock.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { BACKGROUND_FEATURES } from '../src/pipelines/flat/backgroundFeatures.ts';
import { backgroundAccuracy, trainBackground } from '../src/pipelines/flat/backgroundTraining.ts';
import { BACKGROUND_FILE } from '../src/pipelines/flat/learnedBackground.ts';
import { DEFAULT_MATCHER_BLEND, MATCHER_FILE, matcherFromParams, scorePairs } from '../src/pipelines/flat/learnedMatcher.ts';
import { PAIR_FEATURE_COUNT, PAIR_FEATURES } from '../src/pipelines/flat/matchFeatures.ts';
import { collectFlatRows, HELD_OUT_SEED, rowAccuracy, trainMatcher } from '../src/pipelines/flat/matcherTraining.ts';
import type { MlpTrainingResult } from '../src/pipelines/flat/mlpTraining.ts';
import { mlpFromParams, mlpScores, mlpShapes } from '../src/pipelines/flat/smallMlp.ts';
import { writeSafetensors } from '../src/weights/safetensors.ts';

/** End-to-end numbers measured with bench/flat.ts after training (kept here so a rerun writes the same card). */
const EVALUATION = `Sheet → new pose, segment accuracy / character-pixel accuracy, \`npx tsx bench/flat.ts --pairs 60 --seed S --matcher M\`
(deterministic; load average 1.3–2.0, 2 cores):
- held-out 20000–20059: model-free (\`--matcher hand\`) 90.3 / 94.5 %; previous matcher alone (main f3a9605) 91.8 / 95.5 %;
  these models 91.8 / 97.1 % (transparent sheets 88.8 / 94.1 %, was 89.5 / 92.0; mirrored 89.6 / 91.1 %, was 89.4 / 90.9;
  cropped 90.1 / 98.0 %, was 90.7 / 96.7)
- held-out 30000–30059: model-free 91.4 / 97.1 %; previous matcher 92.3 / 97.5 %; these models 93.2 / 98.5 %
- tuning seeds 1000–1059 (\`npx tsx bench/flatTune.ts 1000 60\`): previous matcher 92.0 / 96.8 % (character pixels lost as
  background 1.65 %, to another colour 1.60 %) → 91.9 / 97.5 % (0.72 %, 1.77 %); seeds 0–59: 92.2 / 98.0 % → 92.5 / 98.5 %
- the background model alone (previous matcher kept), seeds 1000–1059: 92.0 / 96.8 % → 92.1 / 97.5 %
Frame → next frame does not use the models (98.2 / 99.5 % on 20000+, 98.0 / 99.5 % on 30000+, as before).
Time: 2048² line art 0.42–0.48 s warm (0.52–0.53 s CPU) against 0.44–0.56 s for main's learned matcher in the same
run (load 1.5–1.7); the background model adds one MLP pass over ≈ 60 regions per frame.`;

/** Rows weigh (region area / figure area)^0.5: between counting regions and counting pixels (tuning seeds 100–139). */
const AREA_POWER = 0.5;

/**
 * The background decision's rows weigh by pixels, figure rows 8× background rows (tuning seeds 1000–1059, matcher
 * of 2000–2179: figure weight 1 → 3 → 8 → 16 → 30: character pixels 94.6 → 97.0 → 97.5 → 97.4 → 97.5 %, segments
 * 93.0 → 92.5 → 92.1 → 91.8 → 91.6 %; pixel weight against √pixels at figure weight 3: 97.0 against 96.9 %).
 */
const BACKGROUND_TRAINING = { areaPower: 1, figureWeight: 8, hidden: [16, 8] as [number, number], steps: 1500 };

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} needs a whole number ≥ 0, got ${process.argv[i + 1]}`);
  return v;
}

/** Writes a trained MLP with its input standardisation; `features` are recorded so a mismatched build refuses it. */
async function writeMlp(file: string, t: MlpTrainingResult, features: readonly string[], metadata: Record<string, string>): Promise<void> {
  const shapes = mlpShapes(features.length, t.hidden);
  await writeSafetensors(file, [
    ...Object.keys(shapes).sort().map((name) => ({ name, dtype: 'F32' as const, shape: shapes[name], data: t.params[name] })),
    { name: 'input.mean', dtype: 'F32' as const, shape: [features.length], data: t.mean },
    { name: 'input.std', dtype: 'F32' as const, shape: [features.length], data: t.std },
  ], { features: features.join(','), ...metadata });
}

const seed = arg('--seed', 0);
const firstSeed = arg('--first-seed', 2000);
const pairs = arg('--pairs', 200);
const steps = arg('--steps', 2000);
const outIndex = process.argv.indexOf('--out');
const out = outIndex >= 0 ? process.argv[outIndex + 1] : 'models/default/flat-matcher';
if (firstSeed + pairs > HELD_OUT_SEED) throw new Error(`seeds ${firstSeed}…${firstSeed + pairs - 1} reach the held-out seeds (≥ ${HELD_OUT_SEED})`);

const t0 = performance.now();
const trainPairs = Math.round(pairs * 0.9);
const seeds = Array.from({ length: pairs }, (_, k) => firstSeed + k);
const log = (line: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0)} s] ${line}`);
const trainRows = collectFlatRows(seeds.slice(0, trainPairs));
const checkRows = collectFlatRows(seeds.slice(trainPairs));
log(`${trainRows.matcher.length} matcher and ${trainRows.background.length} background training rows from ${trainPairs} pairs, ${checkRows.matcher.length} and ${checkRows.background.length} check rows from ${pairs - trainPairs}`);
const trained = await trainMatcher(trainRows.matcher, { seed, steps, areaPower: AREA_POWER, log });
const model = matcherFromParams(trained.params, trained.mean, trained.std);
const byModel = (f: Float32Array, n: number) => scorePairs(model, f, n);
const byHand = (f: Float32Array, n: number) => Float32Array.from({ length: n }, (_, k) => -f[k * PAIR_FEATURE_COUNT + PAIR_FEATURES.indexOf('handCost')]);
const accuracy = {
  handTrain: rowAccuracy(trainRows.matcher, byHand), modelTrain: rowAccuracy(trainRows.matcher, byModel),
  handCheck: rowAccuracy(checkRows.matcher, byHand), modelCheck: rowAccuracy(checkRows.matcher, byModel),
};
const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
log(`row accuracy (top sheet region has the right colour): training ${pct(accuracy.handTrain)} hand → ${pct(accuracy.modelTrain)} model; check pairs ${pct(accuracy.handCheck)} → ${pct(accuracy.modelCheck)}`);
const background = await trainBackground(trainRows.background, { seed, ...BACKGROUND_TRAINING, log });
const backgroundModel = mlpFromParams(background.params, background.mean, background.std);
const byBackgroundModel = (f: Float32Array) => 1 / (1 + Math.exp(-mlpScores(backgroundModel, f, 1)[0]));
const byHandLogistic = (f: Float32Array) => 1 / (1 + Math.exp(-f[BACKGROUND_FEATURES.indexOf('handLogit')]));
const pixelsRight = {
  handTrain: backgroundAccuracy(trainRows.background, byHandLogistic, 1), modelTrain: backgroundAccuracy(trainRows.background, byBackgroundModel, 1),
  handCheck: backgroundAccuracy(checkRows.background, byHandLogistic, 1), modelCheck: backgroundAccuracy(checkRows.background, byBackgroundModel, 1),
};
log(`background decision, pixels decided right: training ${pct(pixelsRight.handTrain)} hand → ${pct(pixelsRight.modelTrain)} model; check pairs ${pct(pixelsRight.handCheck)} → ${pct(pixelsRight.modelCheck)}`);

mkdirSync(out, { recursive: true });
const metadata = { training_seeds: `${firstSeed}-${firstSeed + trainPairs - 1}`, seed: String(seed) };
await writeMlp(join(out, MATCHER_FILE), trained, PAIR_FEATURES, { ...metadata, steps: String(steps) });
await writeMlp(join(out, BACKGROUND_FILE), background, BACKGROUND_FEATURES, { ...metadata, steps: String(BACKGROUND_TRAINING.steps) });
const shapes = mlpShapes(PAIR_FEATURE_COUNT, trained.hidden);
const backgroundParameters = Object.values(mlpShapes(BACKGROUND_FEATURES.length, background.hidden)).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
const parameters = Object.values(shapes).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
const minutes = (performance.now() - t0) / 60000;
writeFileSync(join(out, 'README.md'), `# Flat colouriser: learned matcher and background decision

Two small MLPs (SiLU, f32) for the flat paint-bucket colouriser, used together by \`--matcher learned\`
(the default; \`--matcher hand\` is the model-free path):
- **matcher.safetensors** (${PAIR_FEATURE_COUNT} → ${trained.hidden[0]} → ${trained.hidden[1]} → 1; ${parameters} parameters) scores a (line-art region, sheet region) pair
  (src/pipelines/flat/learnedMatcher.ts). From the second assignment round on, its scores over a row give each sheet
  colour a probability (softmax mass on that colour's regions); −log of it is added to the hand-set cost with weight
  ${DEFAULT_MATCHER_BLEND} (learnedMatcher.ts: DEFAULT_MATCHER_BLEND, and why per colour and from round 1).
- **background.safetensors** (${BACKGROUND_FEATURES.length} → ${background.hidden[0]} → ${background.hidden[1]} → 1; ${backgroundParameters} parameters) gives each line-art region its
  probability of being background (paper or scenery) after the first round, in place of the hand-fitted logistic
  model (src/pipelines/flat/learnedBackground.ts; above 0.5 the region is background).

## Inputs
Standardised with each file's stored \`input.mean\` / \`input.std\`; the feature names are in each file's metadata.
- Matcher, per pair (src/pipelines/flat/matchFeatures.ts): ${PAIR_FEATURES.join(', ')}.
- Background, per region (src/pipelines/flat/backgroundFeatures.ts): ${BACKGROUND_FEATURES.join(', ')}.

## Training (reproduce: \`npx tsx scripts/train-flat-matcher.ts --seed ${seed} --first-seed ${firstSeed} --pairs ${pairs} --steps ${steps}\`)
- Data: generated production pairs (src/imaging/synthetic/productionPair.ts), seeds ${firstSeed}–${firstSeed + trainPairs - 1} for training,
  ${firstSeed + trainPairs}–${firstSeed + pairs - 1} for the accuracy check. No seed ≥ ${HELD_OUT_SEED} (held out for evaluation) was used. Both models
  learn from one model-free colouring of each pair (src/pipelines/flat/matcherTraining.ts).
- Matcher rows: every assignment round gives one row per candidate line-art region whose true colour is on the sheet
  (${trainRows.matcher.length} training rows); loss = −log of the softmax mass on the sheet regions of the true colour; rows weigh
  (region area / sheet figure area)^${AREA_POWER}; batch 64 rows, ${steps} steps.
- Background rows: one per candidate region with ≥ 20 ground-truth pixels, labelled by the majority of its pixels
  (${trainRows.background.length} training rows); logistic loss, rows weigh (region area / sheet figure area)^${BACKGROUND_TRAINING.areaPower}, figure rows ${BACKGROUND_TRAINING.figureWeight}× (a figure part
  taken for paper loses its pixels; scenery kept costs a segment); batch 128, ${BACKGROUND_TRAINING.steps} steps.
- Engine: src/train (graph/autodiff training graph run by onnxruntime-node), AdamW (weight decay 1e-4), cosine
  schedule from lr 3e-3, gradient clipping at 1, init seed ${seed}.
- Loss, matcher: ${trained.losses[0].loss.toFixed(3)} (first 50 steps) → ${trained.losses[trained.losses.length - 1].loss.toFixed(3)} (last 50); background: ${background.losses[0].loss.toFixed(3)} → ${background.losses[background.losses.length - 1].loss.toFixed(3)}.
- Matcher row accuracy (the top-scoring sheet region has the true colour): training rows ${pct(accuracy.handTrain)} by the hand cost →
  ${pct(accuracy.modelTrain)} by the model; check rows ${pct(accuracy.handCheck)} → ${pct(accuracy.modelCheck)}.
- Background decision, share of region pixels decided right: training ${pct(pixelsRight.handTrain)} by the hand logistic model →
  ${pct(pixelsRight.modelTrain)} by the model; check ${pct(pixelsRight.handCheck)} → ${pct(pixelsRight.modelCheck)}.
- Took ${minutes.toFixed(1)} min wall (load average ${loadavg()[0].toFixed(1)}, 2 cores).

## Evaluation
${EVALUATION}
`);
log(`wrote ${join(out, MATCHER_FILE)}, ${join(out, BACKGROUND_FILE)} and README.md`);
