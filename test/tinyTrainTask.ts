// A tiny training task for loop and resume tests: a 2-layer conv net (3→8→3, SiLU, GroupNorm) learns
// a fixed linear map of random images (the target is a channel mix of a half-pixel blur). Data is
// drawn from the loop's rng, so a resumed run sees exactly the batches the interrupted one would have.
import { createGraph, numel } from '../src/graph/graph.ts';
import * as op from '../src/graph/ops.ts';
import * as nn from '../src/graph/nn.ts';
import { memoryWeights } from '../src/graph/weights.ts';
import { compileTraining, type TrainingModel } from '../src/train/trainingGraph.ts';
import type { TrainTask } from '../src/train/trainLoop.ts';
import { createTrainRng } from '../src/train/trainRng.ts';

const SHAPE = [2, 3, 6, 6] as const;

export async function tinyTrainTask(): Promise<TrainTask & { model: TrainingModel }> {
  const g = createGraph('tiny');
  const x = g.input('x', 'f32', SHAPE);
  const target = g.input('target', 'f32', SHAPE);
  const h = nn.silu(nn.groupNorm(nn.conv2d(x, 'conv1', 3, 8, 3), 'norm', 2));
  const y = nn.conv2d(h, 'conv2', 8, 3, 3);
  const d = op.sub(y, target);
  g.output('loss', op.reduceMean(op.mul(d, d), [0, 1, 2, 3], false));
  const names = [...g.params.keys()];
  const shapes = Object.fromEntries(names.map((n) => [n, g.values[g.params.get(n)!].shape]));
  const model = await compileTraining(g, 'loss', names, memoryWeights({}), { cacheDir: false, threads: 1 });
  const mix = [[0.5, 0.3, 0], [0, 0.6, -0.4], [0.2, 0, 0.7]];
  return {
    model,
    shapes,
    initialParams() {
      const r = createTrainRng(1234);
      return Object.fromEntries(names.map((n) => {
        const size = numel(shapes[n]);
        const isScale = n === 'norm.weight';
        return [n, Float32Array.from({ length: size }, () => (isScale ? 1 : 0) + 0.2 * r.normal())];
      }));
    },
    async microStep(params, rng) {
      const xs = rng.normals(numel(SHAPE));
      const t = new Float32Array(xs.length);
      const [b, c, hh, w] = SHAPE;
      for (let n = 0; n < b; n++) for (let o = 0; o < c; o++) for (let yy = 0; yy < hh; yy++) for (let xx = 0; xx < w; xx++) {
        let s = 0;
        for (let i = 0; i < c; i++) {
          const at = (px: number) => xs[((n * c + i) * hh + yy) * w + Math.min(w - 1, px)];
          s += mix[o][i] * 0.5 * (at(xx) + at(xx + 1));
        }
        t[((n * c + o) * hh + yy) * w + xx] = s;
      }
      const r = await model.step(params, { x: xs, target: t });
      return { loss: r.loss, grads: r.grads };
    },
    describe: () => ({ kind: 'tiny-conv-regression', shape: SHAPE }),
  };
}
