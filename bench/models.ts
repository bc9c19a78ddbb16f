// `npm run bench -- unet`: full-size Stable Diffusion models on random weights with the real configs —
// SD1.5 UNet at 512² and 768² (batch 1 and 2), VAE decode to 512², CLIP ViT-L/14 text. Reports ms,
// effective GFLOPS (graph FLOPs / time), session creation time and peak RSS. Peak RSS is the process's
// maximum so far, so run a single case (`-- unet` runs them in order) to read one model's peak.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { ROOF_GFLOPS } from './harness.ts';

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
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await model.run(feeds);
      times.push(performance.now() - t);
    }
    await model.release();
    times.sort((a, b) => a - b);
    const ms = times[Math.floor(times.length / 2)];
    const gflop = graphFlops(g) / 1e9;
    const gflops = gflop / (ms / 1000);
    const peakMB = process.resourceUsage().maxRSS / 1024;
    console.log(`${name.padEnd(24)} ${ms.toFixed(0).padStart(7)} ms  ${gflop.toFixed(0).padStart(5)} GFLOP  ${gflops.toFixed(0).padStart(4)} GFLOPS (${((100 * gflops) / ROOF_GFLOPS).toFixed(0)}% roof)  session ${(createMs / 1000).toFixed(1)} s  peak RSS ${peakMB.toFixed(0)} MB`);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

export async function runUNetBench(): Promise<void> {
  const unet = parseUNetConfig(SD15_CONFIG);
  for (const [px, batch] of [[512, 1], [512, 2], [768, 1], [768, 2]] as const) {
    await timeModel(`UNet sd15 ${px}² b${batch}`, buildUNetGraph(unet, { batch, height: px / 8, width: px / 8, seqLen: 77 }), 3);
  }
  // What a user's fp16 checkpoint gets by default: weights stay f16 in memory, cast per layer.
  await timeModel('UNet sd15 512² b1 f16-w', buildUNetGraph(unet, { batch: 1, height: 64, width: 64, seqLen: 77 }), 3, 'f16');
  await timeModel('VAE decode 512²', vaeDecodeGraph(parseVaeConfig(SD_VAE), [1, 4, 64, 64]), 2);
  await timeModel('CLIP text L/14 b2', clipTextGraph(parseClipTextConfig(CLIP_L), { batch: 2 }), 5);
}
