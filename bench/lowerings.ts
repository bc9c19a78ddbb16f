// `npm run bench -- lowerings`: A/B of emitter lowering choices (EmitOptions.lowering) on the same
// graph and weights in one process, run alternately for several rounds, so machine noise (other
// jobs on the 2 cores) hits every variant alike. Prints median wall ms and CPU ms (user + sys) per
// variant and the max abs difference of each variant's output from the first.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Graph } from '../src/graph/graph.ts';
import { createGraph } from '../src/graph/graph.ts';
import { emitOnnx, paramBytes, MAX_INLINE_BYTES, type LoweringChoice } from '../src/graph/emitOnnx.ts';
import { randomWeights } from '../src/graph/randomWeights.ts';
import { openSession } from '../src/runtime/ortSession.ts';
import { transformer2D } from '../src/models/unet/transformer2d.ts';
import { parseVaeConfig } from '../src/models/vae/config.ts';
import { vaeDecodeGraph } from '../src/models/vae/decoder.ts';
import { parseUNetConfig } from '../src/models/unet/config.ts';
import { buildUNetGraph } from '../src/models/unet/load.ts';
import { SD15_CONFIG } from '../src/models/unet/testConfigs.ts';
import type { WeightStore } from '../src/graph/weights.ts';

const SD_VAE = { _class_name: 'AutoencoderKL', block_out_channels: [128, 256, 512, 512], down_block_types: Array(4).fill('DownEncoderBlock2D'), up_block_types: Array(4).fill('UpDecoderBlock2D'), in_channels: 3, out_channels: 3, latent_channels: 4, layers_per_block: 2, norm_num_groups: 32, sample_size: 512, scaling_factor: 0.18215 };

const VARIANTS: Record<string, LoweringChoice> = {
  'default': {},
  'GN affine as BatchNorm': { groupNormAffine: 'batchNorm' },
  'GN stats by LayerNorm': { groupNormStats: 'layerNorm' },
  'sliced Linears (GEGLU)': { splitSlicedLinears: true },
  'all three': { groupNormAffine: 'batchNorm', groupNormStats: 'layerNorm', splitSlicedLinears: true },
};

function transformerBlock(): Graph {
  const g = createGraph();
  const x = g.input('x', 'f32', [1, 320, 64, 64]);
  const ctx = g.input('context', 'f32', [1, 77, 768]);
  g.output('y', transformer2D(x, ctx, { heads: 8, layers: 1, groups: 32, useLinearProjection: false, crossAttentionDim: 768 }));
  return g;
}

/**
 * INKFLOW_LOWERING_CASES picks cases (default transformer,vae), INKFLOW_LOWERING_VARIANTS variants by
 * label, separated by '|' (default all), INKFLOW_LOWERING_ROUNDS the rounds. Models over 2 GB are emitted with external data; the UNet
 * holds one ~3.4 GB session per variant, so it runs only when asked for.
 */
const CASES: Record<string, { build: () => Graph; rounds: number }> = {
  transformer: { build: transformerBlock, rounds: 15 },
  vae: { build: () => vaeDecodeGraph(parseVaeConfig(SD_VAE), [1, 4, 64, 64]), rounds: 4 },
  unet: { build: () => buildUNetGraph(parseUNetConfig(SD15_CONFIG), { batch: 1, height: 64, width: 64, seqLen: 77 }), rounds: 5 },
};

async function open(g: Graph, weights: WeightStore, lowering: LoweringChoice, dir: string): Promise<ort.InferenceSession> {
  if (paramBytes(g) <= MAX_INLINE_BYTES) return openSession(emitOnnx(g, weights, { lowering }));
  const sub = mkdtempSync(join(dir, 'v'));
  writeFileSync(join(sub, 'model.onnx'), emitOnnx(g, weights, { lowering, externalData: { dir: sub, file: 'weights.bin' } }));
  return openSession(join(sub, 'model.onnx'));
}

export async function runLoweringsBench(cases = (process.env.INKFLOW_LOWERING_CASES ?? 'transformer,vae').split(',')): Promise<void> {
  for (const name of cases) {
    const c = CASES[name];
    if (!c) throw new Error(`unknown lowering case "${name}"; available: ${Object.keys(CASES).join(', ')}`);
    const g = c.build();
    const weights = randomWeights(g);
    const feeds: Record<string, ort.Tensor> = {};
    for (const id of g.inputs) {
      const v = g.values[id];
      const n = v.shape.reduce((a, b) => a * b, 1);
      feeds[v.name!] = v.dtype === 'i64'
        ? new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 1000)), [...v.shape])
        : new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * (v.name === 'timestep' ? 500 : 1)), [...v.shape]);
    }
    const dir = mkdtempSync(join(tmpdir(), 'inkflow-lowerings-'));
    const sessions = [];
    try {
      const labels = process.env.INKFLOW_LOWERING_VARIANTS?.split('|') ?? Object.keys(VARIANTS);
      for (const label of labels) {
        if (!VARIANTS[label]) throw new Error(`unknown lowering variant "${label}"; available: ${Object.keys(VARIANTS).join(' | ')}`);
      }
      for (const label of labels) sessions.push({ label, session: await open(g, weights, VARIANTS[label], dir), wall: [] as number[], cpu: [] as number[] });
    } finally {
      rmSync(dir, { recursive: true, force: true }); // ORT has read the external data by now
    }
    const outputs: Float32Array[] = [];
    for (const s of sessions) outputs.push(Object.values(await s.session.run(feeds))[0].data as Float32Array); // also the warm-up
    const rounds = Number(process.env.INKFLOW_LOWERING_ROUNDS ?? c.rounds);
    for (let r = 0; r < rounds; r++) {
      for (const s of sessions) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await s.session.run(feeds);
        s.wall.push(performance.now() - t0);
        const cpu = process.cpuUsage(c0);
        s.cpu.push((cpu.user + cpu.system) / 1000);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    console.log(`${name}: ${rounds} alternating rounds`);
    sessions.forEach((s, i) => {
      let diff = 0;
      for (let k = 0; k < outputs[0].length; k++) diff = Math.max(diff, Math.abs(outputs[i][k] - outputs[0][k]));
      console.log(`  ${s.label.padEnd(28)} wall ${median(s.wall).toFixed(1).padStart(8)} ms  cpu ${median(s.cpu).toFixed(0).padStart(6)} ms  max|Δ| ${diff.toExponential(1)}`);
    });
    for (const s of sessions) await s.session.release();
  }
}
