// `npx tsx scripts/train-flat-matcher.ts [--seed N] [--first-seed S] [--pairs P] [--steps K] [--out DIR]`:
// reproduces the flat colouriser's learned matcher (models/default/flat-matcher) from a seed. Generates
// production pairs S … S+P−1 (all below 20000: seeds ≥ 20000 are held out), records the model-free matcher's
// rounds (src/pipelines/flat/matcherTraining.ts), trains the MLP with the training engine (ORT training graph, AdamW)
// and writes matcher.safetensors + README.md (the model card). The last tenth of the pairs is kept out of
// training to report row accuracy. A few minutes on two cores; run it under the heavy lock.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MATCHER_BLEND, MATCHER_FILE, matcherFromParams, matcherShapes, scorePairs } from '../src/pipelines/flat/learnedMatcher.ts';
import { PAIR_FEATURE_COUNT, PAIR_FEATURES } from '../src/pipelines/flat/matchFeatures.ts';
import { collectMatcherRows, HELD_OUT_SEED, rowAccuracy, trainMatcher } from '../src/pipelines/flat/matcherTraining.ts';
import { writeSafetensors } from '../src/weights/safetensors.ts';

/** End-to-end numbers measured with bench/flat.ts after training (kept here so a rerun writes the same card). */
const EVALUATION = `Sheet → new pose, model-free (\`npx tsx bench/flat.ts\`) vs learned (\`… --matcher learned\`), same commands back to back,
segment accuracy / character-pixel accuracy (load average 1.2–2.8, 2 cores):
- tuning seeds 100–139 (model trained on 2000–2149, same settings): 89.6 / 94.0 % → 90.9 / 95.0 %
- tuning seeds 1000–1059 (\`bench/flatTune.ts 1000 60\`): 90.2 / 95.1 % → 91.8 / 95.6 %; character pixels lost to
  another colour 3.0 → 1.7 %, to background 1.9 → 2.7 % (the background decision is not the model's)
- held-out 20000–20059 (\`npm run bench -- flat\`, \`--matcher=learned\`): 90.1 / 94.2 % → 91.7 / 95.2 %
- held-out 30000–30059: 91.4 / 97.1 % → 92.3 / 97.5 %
Frame → next frame does not use the matcher (98.2 / 99.5 % and 98.0 / 99.5 % either way). The uncertain mask flags
fewer regions with it (seeds 20000+: 311 → 244; they hold 47 % of the wrong regions instead of 58 %).
Added time (time inside the hook, median of 3 warm runs, load 1.5): 21–29 ms per 2048² line art (≈ 750 pairs per
round), 45 ms per 1920×1080 production frame from a sheet (1720 pairs per round); sequences do not use it.`;

/** Rows weigh (region area / figure area)^0.5: between counting regions and counting pixels (tuning seeds 100–139). */
const AREA_POWER = 0.5;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} needs a whole number ≥ 0, got ${process.argv[i + 1]}`);
  return v;
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
const trainRows = collectMatcherRows(seeds.slice(0, trainPairs), (l) => l.endsWith('0 rows so far') || log(l));
const checkRows = collectMatcherRows(seeds.slice(trainPairs));
log(`${trainRows.length} training rows from ${trainPairs} pairs, ${checkRows.length} check rows from ${pairs - trainPairs}`);
const trained = await trainMatcher(trainRows, { seed, steps, areaPower: AREA_POWER, log });
const model = matcherFromParams(trained.params, trained.mean, trained.std);
const byModel = (f: Float32Array, n: number) => scorePairs(model, f, n);
const byHand = (f: Float32Array, n: number) => Float32Array.from({ length: n }, (_, k) => -f[k * PAIR_FEATURE_COUNT + PAIR_FEATURES.indexOf('handCost')]);
const accuracy = { handTrain: rowAccuracy(trainRows, byHand), modelTrain: rowAccuracy(trainRows, byModel), handCheck: rowAccuracy(checkRows, byHand), modelCheck: rowAccuracy(checkRows, byModel) };
const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
log(`row accuracy (top sheet region has the right colour): training ${pct(accuracy.handTrain)} hand → ${pct(accuracy.modelTrain)} model; check pairs ${pct(accuracy.handCheck)} → ${pct(accuracy.modelCheck)}`);

mkdirSync(out, { recursive: true });
const shapes = matcherShapes(trained.hidden);
const tensors = [
  ...Object.keys(shapes).sort().map((name) => ({ name, dtype: 'F32' as const, shape: shapes[name], data: trained.params[name] })),
  { name: 'input.mean', dtype: 'F32' as const, shape: [PAIR_FEATURE_COUNT], data: trained.mean },
  { name: 'input.std', dtype: 'F32' as const, shape: [PAIR_FEATURE_COUNT], data: trained.std },
];
await writeSafetensors(join(out, MATCHER_FILE), tensors, {
  features: PAIR_FEATURES.join(','), training_seeds: `${firstSeed}-${firstSeed + trainPairs - 1}`, seed: String(seed), steps: String(steps),
});
const parameters = Object.values(shapes).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
const minutes = (performance.now() - t0) / 60000;
writeFileSync(join(out, 'README.md'), `# Flat colouriser: learned matcher

An MLP (${PAIR_FEATURE_COUNT} → ${trained.hidden[0]} → ${trained.hidden[1]} → 1, SiLU; ${parameters} parameters, f32) that scores a
(line-art region, sheet region) pair for the flat paint-bucket colouriser (src/pipelines/flat/learnedMatcher.ts).
Opt-in: \`npx tsx bench/flat.ts --matcher learned\`, \`inkflow colorize --flat --matcher learned\`; the model-free
matcher stays the default. From the second assignment round on, its scores over a row give each sheet colour a
probability (softmax mass on that colour's regions); −log of it is added to the hand-set cost with weight ${DEFAULT_MATCHER_BLEND}
(learnedMatcher.ts: DEFAULT_MATCHER_BLEND, and why per colour and from round 1).

## Inputs
Features per pair (src/pipelines/flat/matchFeatures.ts), standardised with the stored \`input.mean\` / \`input.std\`:
${PAIR_FEATURES.join(', ')}.

## Training (reproduce: \`npx tsx scripts/train-flat-matcher.ts --seed ${seed} --first-seed ${firstSeed} --pairs ${pairs} --steps ${steps}\`)
- Data: generated production pairs (src/imaging/synthetic/productionPair.ts), seeds ${firstSeed}–${firstSeed + trainPairs - 1} for training,
  ${firstSeed + trainPairs}–${firstSeed + pairs - 1} for the row-accuracy check. No seed ≥ ${HELD_OUT_SEED} (held out for evaluation) was used.
- Rows: every assignment round of the model-free matcher on those pairs gives one row per candidate line-art region
  whose true colour is on the sheet (${trainRows.length} training rows); loss = −log of the softmax mass on the sheet regions of
  the true colour.
- Engine: src/train (graph/autodiff training graph run by onnxruntime-node), AdamW (weight decay 1e-4), cosine
  schedule from lr 3e-3, batch 64 rows, ${steps} steps, gradient clipping at 1, init seed ${seed}; rows weigh
  (region area / sheet figure area)^${AREA_POWER}.
- Loss: ${trained.losses[0].loss.toFixed(3)} (first 50 steps) → ${trained.losses[trained.losses.length - 1].loss.toFixed(3)} (last 50).
- Row accuracy (the top-scoring sheet region has the true colour): training rows ${pct(accuracy.handTrain)} by the hand cost → ${pct(accuracy.modelTrain)}
  by the model; check rows ${pct(accuracy.handCheck)} → ${pct(accuracy.modelCheck)}.
- Took ${minutes.toFixed(1)} min (load average ${loadavg()[0].toFixed(1)}).

## Evaluation
${EVALUATION}
`);
log(`wrote ${join(out, MATCHER_FILE)} and README.md`);
