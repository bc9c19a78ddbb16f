// `npx tsx bench/frozenConvs.ts [f16|f32]`: one frozen 3×3 conv of SD1.5's LoRA step per line, forward and
// input gradient in one ORT run, stored as the LoRA bench stores it (f16, cast per use; default) or f32. Under
// f16 storage the kernels of convs at ≥ DENSE_CONV_MIN_PIXELS output pixels stay f32 constants
// (graph/denseConvKernels.ts); run this on two checkouts to compare their conv paths shape by shape.
// Needs the heavy lock. GFLOPS counts the forward and the input gradient.
import { loadavg } from 'node:os';
import { createGraph, numel } from '../src/graph/graph.ts';
import * as op from '../src/graph/ops.ts';
import { grad } from '../src/graph/autodiff.ts';
import { graphFlops } from '../src/graph/flops.ts';
import { randomWeights } from '../src/graph/randomWeights.ts';
import { compile } from '../src/runtime/session.ts';

/** [input channels, output channels, output side] of SD1.5's 3×3 convs at 512². */
const SHAPES: [number, number, number][] = [
  [320, 320, 64], [640, 640, 64], [960, 320, 64], [640, 640, 32], [1280, 640, 32], [1280, 1280, 32],
  [1280, 1280, 16], [2560, 1280, 16], [1280, 1280, 8], [2560, 1280, 8],
];
const RUNS = 7;

async function timeConv(ci: number, co: number, side: number, weightStorage: 'f16' | 'f32'): Promise<string> {
  const g = createGraph('frozen_conv');
  const y = op.conv(g.input('x', 'f32', [1, ci, side, side]), g.param('w', [co, ci, 3, 3]), undefined, { pads: [1, 1, 1, 1] });
  g.output('loss', op.reduceSum(op.mul(y, g.input('t', 'f32', y.shape)), [0, 1, 2, 3], false));
  const train = grad(g, 'loss', ['x']);
  const model = await compile(train, randomWeights(train, { std: 0.02 }), { cacheDir: false, weightStorage, castPerUse: true });
  const feeds: Record<string, Float32Array> = {};
  for (const id of train.inputs) feeds[train.values[id].name!] = Float32Array.from({ length: numel(train.values[id].shape) }, (_, i) => Math.sin(i * 0.37));
  await model.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await model.run(feeds);
    times.push(performance.now() - t);
  }
  await model.release();
  const ms = times.sort((a, b) => a - b)[RUNS >> 1];
  // The input gradient is the last conv of the training graph (the forward's comes first).
  const dx = train.nodes.findLast((n) => n.op === 'Conv' || n.op === 'ConvTranspose')!.op;
  return `${`${ci}→${co} @${side}²`.padEnd(18)} ${ms.toFixed(1).padStart(7)} ms  ${((graphFlops(train) / 1e9) / (ms / 1000)).toFixed(0).padStart(4)} GFLOPS  dX by ${dx}`;
}

const storage = (process.argv[2] ?? 'f16') as 'f16' | 'f32';
if (storage !== 'f16' && storage !== 'f32') throw new Error(`weight storage must be f16 or f32, got "${process.argv[2]}"`);
console.log(`frozen 3×3 convs, forward + input gradient, ${storage} storage, median of ${RUNS}; load ${loadavg()[0].toFixed(1)} at start`);
for (const [ci, co, side] of SHAPES) console.log(await timeConv(ci, co, side, storage));
console.log(`load ${loadavg()[0].toFixed(1)} at end`);
