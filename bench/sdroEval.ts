// `npm run bench -- sdro-eval`: the bundled tiny SDRO model (or INKFLOW_SDRO_MODEL) against the Lab
// mean/std colour-transfer baseline on held-out synthetic pairs (seeds never used in training), with a
// sample sheet (reference | line art | truth | model | baseline per row) written to INKFLOW_EVAL_OUT
// (default .scratch/sdro-eval.png). INKFLOW_EVAL_CASES (default 24) and INKFLOW_EVAL_STEPS (default 20).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { encodePng, type Image } from '../src/imaging/image.ts';
import { loadSdroPipeline } from '../src/pipelines/colorize/sdro.ts';
import { evaluateSdro, meanScores, type ColouringScores } from '../src/pipelines/colorize/sdroEvaluation.ts';
import { HELD_OUT_SEED_BASE } from '../src/train/syntheticImages.ts';
import { hconcat, vconcat } from '../scripts/sampleGrid.ts';
import { loadavg } from 'node:os';

const fmt = (s: ColouringScores) => `PSNR ${s.psnr.toFixed(2).padStart(6)} dB  SSIM ${s.ssim.toFixed(4)} | palette-locked: PSNR ${s.lockedPsnr.toFixed(2).padStart(6)} dB  SSIM ${s.lockedSsim.toFixed(4)}  segments ${(100 * s.segmentAccuracy).toFixed(1).padStart(5)} %`;

export async function runSdroEval(): Promise<void> {
  const model = resolve(process.env.INKFLOW_SDRO_MODEL ?? 'models/default/sdro');
  const cases = Number(process.env.INKFLOW_EVAL_CASES ?? 24);
  const steps = Number(process.env.INKFLOW_EVAL_STEPS ?? 20);
  const outPath = resolve(process.env.INKFLOW_EVAL_OUT ?? '.scratch/sdro-eval.png');
  // Held-out: training uses seeds below HELD_OUT_SEED_BASE; the VAE's evaluation uses the first 1000 above it.
  const seeds = Array.from({ length: cases }, (_, i) => HELD_OUT_SEED_BASE + 1000 + i);
  const pipe = await loadSdroPipeline(model, { threads: 1, cacheDir: false });
  const t0 = performance.now();
  try {
    const rows = await evaluateSdro(pipe, { seeds, size: 128, steps, sampleSeed: 0 }, (c) => {
      console.log(`seed ${c.seed}  model: ${fmt(c.model)}   baseline: ${fmt(c.baseline)}`);
    });
    const m = meanScores(rows.map((r) => r.model));
    const b = meanScores(rows.map((r) => r.baseline));
    console.log(`\n${model}: ${cases} held-out pairs (seeds ${seeds[0]}…${seeds[seeds.length - 1]}), 128², UniPC ${steps} steps, sampling seed 0`);
    console.log(`  tiny SDRO model           ${fmt(m)}`);
    console.log(`  Lab mean/std baseline     ${fmt(b)}`);
    console.log(`  model − baseline          PSNR ${(m.psnr - b.psnr >= 0 ? '+' : '') + (m.psnr - b.psnr).toFixed(2)} dB (goal ≥ +3)  SSIM ${(m.ssim - b.ssim).toFixed(4)}  segments ${(100 * (m.segmentAccuracy - b.segmentAccuracy)).toFixed(1)} points`);
    console.log(`  ${((performance.now() - t0) / 1000 / cases).toFixed(2)} s per case, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    const grid: Image = vconcat(rows.slice(0, 8).map((r) => hconcat([r.images.reference, r.images.lineArt, r.images.target, r.images.model, r.images.baseline])));
    mkdirSync(dirname(outPath), { recursive: true });
    writeFileSync(outPath, await encodePng(grid));
    console.log(`  samples: ${outPath}`);
  } finally {
    await pipe.release();
  }
}
