// `npm run bench -- unet`: full-size Stable Diffusion models on random weights with the real configs —
// SD1.5 UNet at 512² and 768² (batch 1 and 2), VAE decode to 512², CLIP ViT-L/14 text. Reports ms,
// effective GFLOPS (graph FLOPs / time), session creation time (a first compile: emission + ORT
// optimisation) and the peak RSS of the case's own process.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Graph } from '../src/graph/graph.ts';
import { graphFlops } from '../src/graph/flops.ts';
import { randomWeights } from '../src/graph/randomWeights.ts';
import { compile } from '../src/runtime/session.ts';
import type { WeightStorage } from '../src/graph/emitOnnx.ts';
import { parseUNetConfig } from '../src/models/unet/config.ts';
import { buildUNetGraph } from '../src/models/unet/load.ts';
import { SD15_CONFIG } from '../src/models/unet/testConfigs.ts';
import { parseVaeConfig } from '../src/models/vae/config.ts';
import { vaeDecodeGraph } from '../src/models/vae/decoder.ts';
import { parseClipTextConfig } from '../src/models/clip/config.ts';
import { clipTextGraph } from '../src/models/clip/textEncoder.ts';
import { machineRoof } from './roof.ts';
import { startCpuShare } from './machineLoad.ts';

const SD_VAE = { _class_name: 'AutoencoderKL', block_out_channels: [128, 256, 512, 512], down_block_types: Array(4).fill('DownEncoderBlock2D'), up_block_types: Array(4).fill('UpDecoderBlock2D'), in_channels: 3, out_channels: 3, latent_channels: 4, layers_per_block: 2, norm_num_groups: 32, sample_size: 512, scaling_factor: 0.18215 };
const CLIP_L = { hidden_size: 768, intermediate_size: 3072, num_attention_heads: 12, num_hidden_layers: 12, max_position_embeddings: 77, vocab_size: 49408, hidden_act: 'quick_gelu', layer_norm_eps: 1e-5, projection_dim: 768 };

async function timeModel(name: string, g: Graph, runs: number, weightStorage: WeightStorage = 'f32'): Promise<void> {
  const cache = mkdtempSync(join(tmpdir(), 'inkflow-bench-'));
  try {
    const t0 = performance.now();
    const model = await compile(g, randomWeights(g), { cacheDir: cache, weightStorage });
    const createMs = performance.now() - t0;
    const feeds: Record<string, { dtype: 'f32' | 'i64'; shape: readonly number[]; data: Float32Array | BigInt64Array }> = {};
    for (const id of g.inputs) {
      const v = g.values[id];
      const n = v.shape.reduce((a, b) => a * b, 1);
      feeds[v.name!] = v.dtype === 'i64'
        ? { dtype: 'i64', shape: v.shape, data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 1000)) }
        : { dtype: 'f32', shape: v.shape, data: Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * (v.name === 'timestep' ? 500 : 1)) };
    }
    await model.run(feeds);
    const times: number[] = [];
    let othersS = 0;
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      const shareSince = startCpuShare();
      await model.run(feeds);
      times.push(performance.now() - t);
      othersS = Math.max(othersS, shareSince?.().othersS ?? 0);
    }
    await model.release();
    times.sort((a, b) => a - b);
    const ms = times[Math.floor(times.length / 2)];
    const gflop = graphFlops(g) / 1e9;
    const roofGflops = (await machineRoof()).gflops;
    const gflops = gflop / (ms / 1000);
    const peakMB = process.resourceUsage().maxRSS / 1024;
    console.log(`${name.padEnd(24)} ${ms.toFixed(0).padStart(7)} ms  ${gflop.toFixed(0).padStart(5)} GFLOP  ${gflops.toFixed(0).padStart(4)} GFLOPS (${((100 * gflops) / roofGflops).toFixed(0)}% roof)  session ${(createMs / 1000).toFixed(1)} s  peak RSS ${peakMB.toFixed(0)} MB  other processes ≤ ${othersS.toFixed(1)} CPU s a run`);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

interface BenchCase {
  name: string;
  build: () => Graph;
  runs: number;
  weightStorage?: WeightStorage;
}

function benchCases(): BenchCase[] {
  const unet = parseUNetConfig(SD15_CONFIG);
  const unetGraph = (px: number, batch: number) => () => buildUNetGraph(unet, { batch, height: px / 8, width: px / 8, seqLen: 77 });
  return [
    ...([[512, 1], [512, 2], [768, 1], [768, 2]] as const).map(([px, batch]) => ({ name: `UNet sd15 ${px}² b${batch}`, build: unetGraph(px, batch), runs: 3 })),
    // What a user's fp16 checkpoint gets by default: weights stay f16 in memory, cast per layer.
    { name: 'UNet sd15 512² b1 f16-w', build: unetGraph(512, 1), runs: 3, weightStorage: 'f16' },
    { name: 'VAE decode 512²', build: () => vaeDecodeGraph(parseVaeConfig(SD_VAE), [1, 4, 64, 64]), runs: 2 },
    { name: 'CLIP text L/14 b2', build: () => clipTextGraph(parseClipTextConfig(CLIP_L), { batch: 2 }), runs: 5 },
  ];
}

/** Runs every case in its own process, so each line's peak RSS is that model's alone. */
export async function runUNetBench(): Promise<void> {
  const cases = benchCases();
  for (let i = 0; i < cases.length; i++) {
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), CASE_FLAG, String(i)], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`bench case "${cases[i].name}" failed (exit ${r.status})`);
  }
}

const CASE_FLAG = '--models-bench-case';
if (process.argv[2] === CASE_FLAG) {
  const c = benchCases()[Number(process.argv[3])];
  await timeModel(c.name, c.build(), c.runs, c.weightStorage);
}
