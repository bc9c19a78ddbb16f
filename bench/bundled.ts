// `npm run bench -- bundled`: the lossy speed modes (int8, step caching, both) on the bundled trained
// models, through the functions `inkflow colorize` and `inkflow generate` run when no --model is given:
// colorizeWithModel on models/default/sdro (the README example at 512² and held-out synthetic pairs at
// 128², UniPC 20 steps, sampling seed 0) and generate on models/default/t2i with the CLI's defaults
// (128², 20 steps dpmpp_2m/karras, cfg 8; the README prompt and held-out colour combinations, fixed seeds).
// Each lossy mode's picture is compared with the fp32 picture of the same input (PSNR, goal ≥ 30 dB,
// issue 14); wall times are per call after a warm-up call that fills the compile cache (a temporary
// INKFLOW_CACHE), so they are what a user waits once the models are compiled.
// INKFLOW_BENCH_CASES (default 6) held-out inputs per model; INKFLOW_BENCH_CACHE_INTERVAL (default 3).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Image } from '../src/imaging/image.ts';
import { decodeImage } from '../src/imaging/image.ts';
import { decodeLineArt } from '../src/imaging/lineArtInput.ts';
import { psnr } from '../src/imaging/metrics.ts';
import { generateCharacterPair } from '../src/imaging/synthetic/characterSheet.ts';
import { captionOf, isHeldOutCombination } from '../src/imaging/synthetic/taggedCharacter.ts';
import { heldOutPrompts } from '../src/imaging/synthetic/tagAccuracy.ts';
import { DEFAULT_SDRO_PATH } from '../src/models/bundledModels.ts';
import { DEFAULT_T2I_SIZE, defaultTextToImagePath } from '../src/models/defaultTextToImage.ts';
import { loadCheckpoint } from '../src/models/checkpoint/loadCheckpoint.ts';
import { colorizeWithModel } from '../src/pipelines/colorize/colorizeLineArt.ts';
import { generate } from '../src/pipelines/generate/generate.ts';
import { GENERATE_DEFAULTS } from '../src/pipelines/generate/defaults.ts';
import { HELD_OUT_SEED_BASE } from '../src/train/syntheticImages.ts';

const CASES = Number(process.env.INKFLOW_BENCH_CASES ?? 6);
const INTERVAL = Number(process.env.INKFLOW_BENCH_CACHE_INTERVAL ?? 3);
const GOAL_DB = 30;
const EXAMPLES = join(import.meta.dirname, '../examples');

interface Mode { name: string; precision?: 'int8'; cacheSteps?: number }
const MODES: Mode[] = [
  { name: 'fp32' },
  { name: 'int8', precision: 'int8' },
  { name: `cached/${INTERVAL}`, cacheSteps: INTERVAL },
  { name: `int8+cached/${INTERVAL}`, precision: 'int8', cacheSteps: INTERVAL },
];

interface Input<T> { label: string; value: T }
type Run<T> = (input: T, mode: Mode) => Promise<Image>;

async function colorizeInputs(): Promise<Input<{ reference: Image; lineArt: Image }>[]> {
  const read = (name: string) => readFileSync(join(EXAMPLES, name));
  const inputs = [{ label: 'README example 512²', value: { reference: await decodeImage(read('character-sheet.png'), 3, 'character-sheet.png'), lineArt: await decodeLineArt(read('lineart.png'), 'lineart.png') } }];
  // Set B of the model card (held out of training, not looked at during it).
  for (let i = 0; i < CASES; i++) {
    const seed = HELD_OUT_SEED_BASE + 2000 + i;
    const pair = generateCharacterPair({ seed, width: 128 });
    inputs.push({ label: `held-out pair ${seed} 128²`, value: { reference: pair.reference, lineArt: pair.targetLineArt } });
  }
  return inputs;
}

const colorizeRun: Run<{ reference: Image; lineArt: Image }> = async (input, mode) =>
  (await colorizeWithModel({ model: DEFAULT_SDRO_PATH, ...input, seed: 0n, precision: mode.precision, cacheSteps: mode.cacheSteps })).image;

function generateInputs(): Input<{ prompt: string; seed: number }>[] {
  const prompts = [{ label: 'README prompt', value: { prompt: 'red hair, blue shirt, green pants, arms up', seed: 42 } }];
  for (const [i, p] of heldOutPrompts(CASES, 1_000_000, isHeldOutCombination).entries()) {
    prompts.push({ label: `held-out "${captionOf(p.tags)}"`, value: { prompt: captionOf(p.tags), seed: 1000 + i } });
  }
  return prompts;
}

/** The CLI's path: the folder opened as CheckpointLoaderSimple does (one model resident), then generate. */
const generateRun: Run<{ prompt: string; seed: number }> = async (input, mode) => {
  const ckpt = loadCheckpoint(defaultTextToImagePath(), { residency: 'one', ...(mode.precision ? { precision: mode.precision } : {}) });
  try {
    const D = GENERATE_DEFAULTS;
    const r = await generate(ckpt, { ...input, width: DEFAULT_T2I_SIZE, height: DEFAULT_T2I_SIZE, steps: D.steps, cfg: D.cfg, sampler: D.sampler, scheduler: D.scheduler, cacheSteps: mode.cacheSteps });
    return r.images[0];
  } finally {
    await ckpt.release();
  }
};

const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');

async function benchModel<T>(name: string, inputs: Input<T>[], run: Run<T>): Promise<void> {
  const ref: Image[] = [];
  const fp32Ms: number[] = [];
  for (const mode of MODES) {
    // Warm-up: compiles this mode's sessions into the cache, for both input sizes (the README example is 512²).
    for (const input of inputs.slice(0, 2)) await run(input.value, mode);
    const times: number[] = [];
    const scores: number[] = [];
    for (const [i, input] of inputs.entries()) {
      const t0 = performance.now();
      const img = await run(input.value, mode);
      times.push(performance.now() - t0);
      if (mode.name === 'fp32') {
        ref.push(img);
        fp32Ms.push(times[i]);
      } else {
        scores.push(Math.min(100, psnr(img, ref[i])));
        console.log(`  ${name} ${mode.name.padEnd(14)} ${input.label.padEnd(58)} PSNR ${scores[i].toFixed(1).padStart(5)} dB vs fp32 | ${(times[i] / 1000).toFixed(2)} s (fp32 ${(fp32Ms[i] / 1000).toFixed(2)} s)`);
      }
    }
    const sum = (a: number[]) => a.reduce((p, q) => p + q, 0);
    const wall = `${(sum(times) / 1000).toFixed(2)} s for ${inputs.length} inputs`;
    if (mode.name === 'fp32') {
      console.log(`${name} fp32 ${wall} | load ${load()}`);
      continue;
    }
    const worst = Math.min(...scores);
    const met = scores.filter((s) => s >= GOAL_DB).length;
    console.log(`${name} ${mode.name} PSNR vs fp32: min ${worst.toFixed(1)} dB, mean ${(sum(scores) / scores.length).toFixed(1)} dB, ${met}/${scores.length} inputs ≥ ${GOAL_DB} dB (goal ≥ ${GOAL_DB} dB on every input) | wall ${wall} (fp32 ${(sum(fp32Ms) / 1000).toFixed(2)} s, ${(sum(fp32Ms) / sum(times)).toFixed(2)}× fp32) | load ${load()}`);
  }
}

export async function runBundledBench(): Promise<void> {
  const cache = mkdtempSync(join(tmpdir(), 'inkflow-bench-bundled-'));
  const saved = process.env.INKFLOW_CACHE;
  process.env.INKFLOW_CACHE = cache;
  try {
    const only = process.env.INKFLOW_BENCH_MODELS?.split(',') ?? ['sdro', 't2i'];
    if (only.includes('sdro')) await benchModel('sdro', await colorizeInputs(), colorizeRun);
    if (only.includes('t2i')) await benchModel('t2i', generateInputs(), generateRun);
  } finally {
    if (saved === undefined) delete process.env.INKFLOW_CACHE;
    else process.env.INKFLOW_CACHE = saved;
    rmSync(cache, { recursive: true, force: true });
  }
}
