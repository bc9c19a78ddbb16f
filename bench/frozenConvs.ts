// `npx tsx bench/frozenConvs.ts [f16|f32]`: one frozen 3×3 conv of SD1.5's LoRA step per line, forward and
// input gradient in one ORT run, stored as the LoRA bench stores it (f16, cast per use; default) or f32
// (constant kernels, which ORT runs on its NCHWc path); run it on two checkouts to compare their conv paths
// shape by shape. Needs the heavy lock. GFLOPS counts the forward and the input gradient.
import { loadavg } from 'node:os';
import { createGraph } from '../src/graph/graph.ts';
import * as op from '../src/graph/ops.ts';
import { grad } from '../src/graph/autodiff.ts';
import { benchGraph } from './harness.ts';

/** [input channels, output channels, output side] of SD1.5's 3×3 convs at 512². */
const SHAPES: [number, number, number][] = [
  [320, 320, 64], [640, 640, 64], [960, 320, 64], [640, 640, 32], [1280, 640, 32], [1280, 1280, 32],
  [1280, 1280, 16], [2560, 1280, 16], [1280, 1280, 8], [2560, 1280, 8],
];

const storage = process.argv[2] ?? 'f16';
if (storage !== 'f16' && storage !== 'f32') throw new Error(`weight storage must be f16 or f32, got "${storage}"`);
console.log(`frozen 3×3 convs, forward + input gradient, ${storage} storage; load ${loadavg()[0].toFixed(1)} at start`);
for (const [ci, co, side] of SHAPES) {
  const g = createGraph('frozen_conv');
  const y = op.conv(g.input('x', 'f32', [1, ci, side, side]), g.param('w', [co, ci, 3, 3]), undefined, { pads: [1, 1, 1, 1] });
  g.output('loss', op.reduceSum(op.mul(y, g.input('t', 'f32', y.shape)), [0, 1, 2, 3], false));
  const train = grad(g, 'loss', ['x']);
  // The input gradient is the training graph's last conv (the forward's comes first).
  const dx = train.nodes.findLast((n) => n.op === 'Conv' || n.op === 'ConvTranspose')!.op;
  await benchGraph(`${ci}→${co} @${side}² dX ${dx}`, train, { runs: 7, compile: { weightStorage: storage, castPerUse: true } });
}
console.log(`load ${loadavg()[0].toFixed(1)} at end`);
