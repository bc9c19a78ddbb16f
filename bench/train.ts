// `npm run bench -- train`: training steps (forward + backward in one ORT run) on random weights.
//   conv 3×3 320→320 @64²: input gradient only (ConvTranspose), weight gradient only (shifted MatMuls), both
//   tiny UNet: a full-parameter step (every weight trained)
//   SD1.5 UNet 512²: one LoRA step, rank 16 on the attention projections, frozen base weights stored f16
// Each case runs in its own process so its peak RSS is its own. GFLOPS = the training graph's
// MatMul/Conv/ConvTranspose/Attention FLOPs (graph/flops.ts) over the median step time.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGraph, numel, type Graph } from '../src/graph/graph.ts';
import * as op from '../src/graph/ops.ts';
import { grad } from '../src/graph/autodiff.ts';
import { graphFlops } from '../src/graph/flops.ts';
import { randomWeights } from '../src/graph/randomWeights.ts';
import type { WeightStorage } from '../src/graph/emitOnnx.ts';
import { compile, flushCompileCache } from '../src/runtime/session.ts';
import { parseUNetConfig } from '../src/models/unet/config.ts';
import { buildUNetGraph } from '../src/models/unet/load.ts';
import { SD15_CONFIG } from '../src/models/unet/testConfigs.ts';
import { addLoraBranches } from '../src/train/lora.ts';
import { weightedMse } from '../src/train/diffusionObjective.ts';
import { machineRoof } from './roof.ts';
import { formatCpuShare, startCpuShare } from './machineLoad.ts';

interface TrainCase {
  name: string;
  /** The forward graph with a scalar output "loss", and the names to differentiate. */
  build(): { forward: Graph; trainable: string[] };
  runs: number;
  weightStorage?: WeightStorage;
}

function convCase(which: 'dX' | 'dW' | 'dX+dW'): TrainCase {
  return {
    name: `conv 320² @64² ${which}`,
    runs: 5,
    build() {
      const g = createGraph('conv');
      const x = g.input('x', 'f32', [1, 320, 64, 64]);
      const w = g.param('w', [320, 320, 3, 3]);
      const y = op.conv(x, w, undefined, { pads: [1, 1, 1, 1] });
      g.output('loss', op.reduceSum(op.mul(y, y), [0, 1, 2, 3], false));
      return { forward: g, trainable: which === 'dX' ? ['x'] : which === 'dW' ? ['w'] : ['x', 'w'] };
    },
  };
}

/** The UNet plus a weighted-MSE loss on its prediction. */
function unetWithLoss(config: Record<string, unknown>, px: number, seqLen: number): Graph {
  const g = buildUNetGraph(parseUNetConfig(config), { batch: 1, height: px / 8, width: px / 8, seqLen });
  const pred = g.tensor(g.outputs.find((o) => o.name === 'out_sample')!.id);
  g.output('loss', weightedMse(pred, g.input('target', 'f32', pred.shape), g.input('weights', 'f32', [1])));
  return g;
}

const TINY_UNET = {
  _class_name: 'UNet2DConditionModel', block_out_channels: [32, 64, 64], layers_per_block: 1,
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  attention_head_dim: 8, cross_attention_dim: 64, norm_num_groups: 8,
};

function cases(): TrainCase[] {
  return [
    convCase('dX'),
    convCase('dW'),
    convCase('dX+dW'),
    {
      name: 'tiny UNet 256² full params',
      runs: 5,
      build() {
        const forward = unetWithLoss(TINY_UNET, 256, 8);
        return { forward, trainable: [...forward.params.keys()] };
      },
    },
    {
      name: 'SD1.5 UNet 512² LoRA r16',
      runs: 2,
      weightStorage: 'f16',
      build() {
        const { graph, modules } = addLoraBranches(unetWithLoss(SD15_CONFIG, 512, 77), { rank: 16, alpha: 16 });
        return { forward: graph, trainable: modules.flatMap((m) => [m.down, m.up]) };
      },
    },
  ];
}

async function runCase(c: TrainCase): Promise<void> {
  const t0 = performance.now();
  const { forward, trainable } = c.build();
  const train = grad(forward, 'loss', trainable);
  const buildMs = performance.now() - t0;
  const t1 = performance.now();
  // A fresh cache folder: models over 2 GB need external data, and a first compile is what is timed.
  const cacheDir = mkdtempSync(join(tmpdir(), 'inkflow-train-bench-'));
  process.on('exit', () => rmSync(cacheDir, { recursive: true, force: true }));
  const model = await compile(train, randomWeights(train, { std: 0.02 }), { cacheDir, weightStorage: c.weightStorage ?? 'f32', castPerUse: true });
  const createMs = performance.now() - t1;
  // A first compile finishes in the background: an f16 entry is copied from the RAM stage into the cache
  // (1.7 GB for SD1.5), an f32 one is saved by another process (runtime/compileStaging.ts). Steps timed
  // meanwhile share the two cores with that work (a third thread of 5.6 s CPU during two SD1.5 LoRA steps).
  await flushCompileCache({ untilSaved: true });
  const feeds: Record<string, Float32Array> = {};
  for (const id of train.inputs) {
    const v = train.values[id];
    feeds[v.name!] = Float32Array.from({ length: numel(v.shape) }, (_, i) => (v.name === 'timestep' ? 500 : v.name === 'weights' ? 1 : 0.02 * Math.sin(i * 0.37 + v.name!.length)));
  }
  await model.run(feeds);
  const times: number[] = [];
  // What else ran during the timed steps: on 2 shared cores any other busy process halves ORT's speed.
  const share = startCpuShare();
  for (let i = 0; i < c.runs; i++) {
    const t = performance.now();
    await model.run(feeds);
    times.push(performance.now() - t);
  }
  const cpu = share?.();
  await model.release();
  times.sort((a, b) => a - b);
  const ms = times[Math.floor(times.length / 2)];
  const gflop = graphFlops(train) / 1e9;
  const roofGflops = (await machineRoof()).gflops;
  const gflops = gflop / (ms / 1000);
  const peakMB = process.resourceUsage().maxRSS / 1024;
  console.log(`${c.name.padEnd(28)} ${ms.toFixed(0).padStart(7)} ms/step  ${gflop.toFixed(1).padStart(7)} GFLOP  ${gflops.toFixed(0).padStart(4)} GFLOPS (${((100 * gflops) / roofGflops).toFixed(0)}% roof)  graph ${(buildMs / 1000).toFixed(1)} s  session ${(createMs / 1000).toFixed(1)} s  ${train.nodes.length} nodes  peak RSS ${peakMB.toFixed(0)} MB`);
  console.log(`${''.padEnd(28)} timed runs: ${formatCpuShare(cpu)}, load ${loadavg()[0].toFixed(1)}`);
}

/** Runs every case in its own process (`-- train <name substring>` picks cases). */
export async function runTrainBench(filter?: string): Promise<void> {
  const all = cases();
  for (let i = 0; i < all.length; i++) {
    if (filter && !all[i].name.includes(filter)) continue;
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), CASE_FLAG, String(i)], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`bench case "${all[i].name}" failed (exit ${r.status})`);
  }
}

const CASE_FLAG = '--train-bench-case';
if (process.argv[2] === CASE_FLAG) await runCase(cases()[Number(process.argv[3])]);
