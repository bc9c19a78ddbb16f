// `npm run bench -- sdxl`: the SDXL base UNet (stabilityai/stable-diffusion-xl-base-1.0 unet/config.json) on
// random weights stored fp16 (what a user's fp16 SDXL checkpoint gets), at 1024² (128² latent), batch 1 and 2
// (CFG). Reports the median forward time, effective GFLOPS, session creation time and the peak RSS of each
// case's own process; case 2 is the end-to-end 1024² txt2img with CFG (bench/sdxlEndToEnd.ts).
// INKFLOW_SDXL_BENCH_CASES=0 (or 1, 2, or a list) picks cases; INKFLOW_SDXL_BENCH_RUNS sets the runs.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { graphFlops } from '../src/graph/flops.ts';
import type { Graph } from '../src/graph/graph.ts';
import { randomWeights } from '../src/graph/randomWeights.ts';
import { compile } from '../src/runtime/session.ts';
import { parseUNetConfig } from '../src/models/unet/config.ts';
import { buildUNetGraph } from '../src/models/unet/load.ts';
import { machineRoof } from './roof.ts';

/** stabilityai/stable-diffusion-xl-base-1.0 unet/config.json (the fields that matter). */
export const SDXL_BASE_UNET_CONFIG = {
  _class_name: 'UNet2DConditionModel',
  addition_embed_type: 'text_time',
  addition_time_embed_dim: 256,
  attention_head_dim: [5, 10, 20],
  block_out_channels: [320, 640, 1280],
  cross_attention_dim: 2048,
  down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'],
  in_channels: 4,
  layers_per_block: 2,
  norm_num_groups: 32,
  out_channels: 4,
  projection_class_embeddings_input_dim: 2816,
  sample_size: 128,
  transformer_layers_per_block: [1, 2, 10],
  up_block_types: ['CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'],
  use_linear_projection: true,
};

/** Deterministic inputs in the ranges the UNet sees (timestep ~500, time ids ~1024 px). */
export function sdxlBenchFeeds(g: Graph): Record<string, Float32Array> {
  const feeds: Record<string, Float32Array> = {};
  for (const id of g.inputs) {
    const v = g.values[id];
    const n = v.shape.reduce((a, b) => a * b, 1);
    const scale = v.name === 'timestep' ? 500 : v.name === 'time_ids' ? 1024 : 1;
    feeds[v.name!] = Float32Array.from({ length: n }, (_, i) => Math.abs(Math.sin(i * 0.37)) * scale);
  }
  return feeds;
}

const CASES = [1, 2].map((batch) => ({ name: `UNet sdxl 1024² b${batch} f16-w`, batch }));

async function timeCase(name: string, batch: number, runs: number): Promise<void> {
  const cache = mkdtempSync(join(tmpdir(), 'inkflow-bench-sdxl-'));
  try {
    const g = buildUNetGraph(parseUNetConfig(SDXL_BASE_UNET_CONFIG), { batch, height: 128, width: 128, seqLen: 77 });
    const t0 = performance.now();
    const model = await compile(g, randomWeights(g), { cacheDir: cache, weightStorage: 'f16' });
    const createMs = performance.now() - t0;
    const feeds = sdxlBenchFeeds(g);
    const times: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const t = performance.now();
      await model.run(feeds);
      if (i > 0) times.push(performance.now() - t); // the first run warms up
    }
    await model.release();
    times.sort((a, b) => a - b);
    const ms = times[Math.floor(times.length / 2)];
    const gflop = graphFlops(g) / 1e9;
    const roofGflops = (await machineRoof()).gflops;
    const gflops = gflop / (ms / 1000);
    const peakMB = process.resourceUsage().maxRSS / 1024;
    console.log(`${name.padEnd(26)} ${ms.toFixed(0).padStart(7)} ms  ${gflop.toFixed(0).padStart(5)} GFLOP  ${gflops.toFixed(0).padStart(4)} GFLOPS (${((100 * gflops) / roofGflops).toFixed(0)}% roof)  session ${(createMs / 1000).toFixed(1)} s  peak RSS ${peakMB.toFixed(0)} MB  (${runs} runs, load avg ${(await import('node:os')).loadavg()[0].toFixed(1)})`);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

/** Each case in its own process, so each peak RSS is that case's alone. */
export async function runSdxlBench(): Promise<void> {
  const pick = process.env.INKFLOW_SDXL_BENCH_CASES?.split(',').map(Number) ?? [...CASES.map((_, i) => i), CASES.length];
  for (const i of pick) {
    // Case CASES.length is the end-to-end txt2img (bench/sdxlEndToEnd.ts), also in its own process.
    const args = i === CASES.length ? [fileURLToPath(new URL('./sdxlEndToEnd.ts', import.meta.url)), '--sdxl-e2e'] : [fileURLToPath(import.meta.url), CASE_FLAG, String(i)];
    const r = spawnSync(process.execPath, [...process.execArgv, ...args], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`bench case "${CASES[i]?.name ?? 'SDXL txt2img end to end'}" failed (exit ${r.status})`);
  }
}

const CASE_FLAG = '--sdxl-bench-case';
if (process.argv[2] === CASE_FLAG) {
  const c = CASES[Number(process.argv[3])];
  await timeCase(c.name, c.batch, Number(process.env.INKFLOW_SDXL_BENCH_RUNS ?? 2));
}
