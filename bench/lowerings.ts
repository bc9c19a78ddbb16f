// `npm run bench -- lowerings`: A/B of emitter lowering choices (EmitOptions.lowering) on the same
// graph and weights in one process, run alternately for several rounds, so machine noise (other
// jobs on the 2 cores) hits every variant alike. Prints median wall ms and CPU ms (user + sys) per
// variant and the max abs difference of each variant's output from the first.
import * as ort from 'onnxruntime-node';
import type { Graph } from '../src/graph/graph.ts';
import { createGraph } from '../src/graph/graph.ts';
import { emitOnnx, type LoweringChoice } from '../src/graph/emitOnnx.ts';
import { randomWeights } from '../src/graph/randomWeights.ts';
import { openSession } from '../src/runtime/ortSession.ts';
import { transformer2D } from '../src/models/unet/transformer2d.ts';
import { parseVaeConfig } from '../src/models/vae/config.ts';
import { vaeDecodeGraph } from '../src/models/vae/decoder.ts';

const SD_VAE = { _class_name: 'AutoencoderKL', block_out_channels: [128, 256, 512, 512], down_block_types: Array(4).fill('DownEncoderBlock2D'), up_block_types: Array(4).fill('UpDecoderBlock2D'), in_channels: 3, out_channels: 3, latent_channels: 4, layers_per_block: 2, norm_num_groups: 32, sample_size: 512, scaling_factor: 0.18215 };

const VARIANTS: Record<string, LoweringChoice> = {
  'before (IN+Mul+Add, Split)': { groupNormAffine: 'mulAdd', splitSlicedLinears: false },
  'GN affine as BatchNorm': { groupNormAffine: 'batchNorm', splitSlicedLinears: false },
  'sliced Linears (GEGLU)': { groupNormAffine: 'mulAdd', splitSlicedLinears: true },
  'default (both)': {},
};

function transformerBlock(): Graph {
  const g = createGraph();
  const x = g.input('x', 'f32', [1, 320, 64, 64]);
  const ctx = g.input('context', 'f32', [1, 77, 768]);
  g.output('y', transformer2D(x, ctx, { heads: 8, layers: 1, groups: 32, useLinearProjection: false, crossAttentionDim: 768 }));
  return g;
}

const CASES: Record<string, { build: () => Graph; rounds: number }> = {
  transformer: { build: transformerBlock, rounds: 15 },
  vae: { build: () => vaeDecodeGraph(parseVaeConfig(SD_VAE), [1, 4, 64, 64]), rounds: 4 },
};

export async function runLoweringsBench(cases = (process.env.INKFLOW_LOWERING_CASES ?? 'transformer,vae').split(',')): Promise<void> {
  for (const name of cases) {
    const c = CASES[name];
    if (!c) throw new Error(`unknown lowering case "${name}"; available: ${Object.keys(CASES).join(', ')}`);
    const g = c.build();
    const weights = randomWeights(g);
    const feeds: Record<string, ort.Tensor> = {};
    for (const id of g.inputs) {
      const v = g.values[id];
      feeds[v.name!] = new ort.Tensor('float32', Float32Array.from({ length: v.shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37)), [...v.shape]);
    }
    const sessions = [];
    for (const [label, lowering] of Object.entries(VARIANTS)) sessions.push({ label, session: await openSession(emitOnnx(g, weights, { lowering })), wall: [] as number[], cpu: [] as number[] });
    const outputs: Float32Array[] = [];
    for (const s of sessions) outputs.push((await s.session.run(feeds)).y.data as Float32Array); // also the warm-up
    for (let r = 0; r < c.rounds; r++) {
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
    console.log(`${name}: ${c.rounds} alternating rounds`);
    sessions.forEach((s, i) => {
      let diff = 0;
      for (let k = 0; k < outputs[0].length; k++) diff = Math.max(diff, Math.abs(outputs[i][k] - outputs[0][k]));
      console.log(`  ${s.label.padEnd(28)} wall ${median(s.wall).toFixed(1).padStart(8)} ms  cpu ${median(s.cpu).toFixed(0).padStart(6)} ms  max|Δ| ${diff.toExponential(1)}`);
    });
    for (const s of sessions) await s.session.release();
  }
}
