// What training the flat colouriser's small MLPs (smallMlp.ts) shares, whatever their loss: the input
// standardisation, the network as a training graph, and the loop — graph/autodiff differentiates the graph, ORT
// runs it, AdamW (cosine schedule, gradient clipping at 1) updates the weights. Deterministic per seed.
import type { Graph, Tensor } from '../../graph/graph.ts';
import * as nn from '../../graph/nn.ts';
import * as op from '../../graph/ops.ts';
import { memoryWeights } from '../../graph/weights.ts';
import { clipGradNorm } from '../../train/gradients.ts';
import { initParams } from '../../train/initParams.ts';
import { learningRate } from '../../train/lrSchedule.ts';
import { createOptimizerState, optimizerStep } from '../../train/optimizer.ts';
import { compileTraining } from '../../train/trainingGraph.ts';
import { createTrainRng, type TrainRng } from '../../train/trainRng.ts';
import { MLP_LAYERS } from './smallMlp.ts';

/** Mean and standard deviation of each of `F` features over row-major blocks of rows (the input standardisation). */
export function featureStatistics(blocks: readonly Float32Array[], F: number): { mean: Float32Array; std: Float32Array } {
  const sum = new Float64Array(F), sq = new Float64Array(F);
  let n = 0;
  for (const block of blocks) {
    for (let p = 0; p + F <= block.length; p += F) {
      for (let k = 0; k < F; k++) {
        const v = block[p + k];
        sum[k] += v;
        sq[k] += v * v;
      }
      n++;
    }
  }
  const mean = Float32Array.from(sum, (s) => s / Math.max(1, n));
  const std = Float32Array.from(sq, (s, k) => Math.sqrt(Math.max(0, s / Math.max(1, n) - mean[k] ** 2)) || 1);
  return { mean, std };
}

/** The MLP of smallMlp.ts over the last axis of `x` (standardised features): one score per row, last axis 1. */
export function mlpGraph(x: Tensor, inputs: number, hidden: readonly [number, number]): Tensor {
  const widths = [inputs, hidden[0], hidden[1], 1];
  let h = x;
  MLP_LAYERS.forEach((name, k) => {
    h = nn.linear(h, name, widths[k], widths[k + 1]);
    if (k < MLP_LAYERS.length - 1) h = nn.silu(h);
  });
  return h;
}

/** Output `loss`: the mean of `perRow` [batch] weighted by the input `row_weight` [batch]. */
export function weightedLoss(g: Graph, perRow: Tensor, batch: number): void {
  const weight = g.input('row_weight', 'f32', [batch]);
  g.output('loss', op.div(op.reduceSum(op.mul(perRow, weight), [0], false), op.reduceSum(weight, [0], false)));
}

export interface MlpTrainingOptions {
  hidden?: [number, number];
  /** Rows per step. */
  batch?: number;
  /** Rows weigh (region area / sheet figure area)^areaPower: 0 counts every region alike, 1 weighs by pixels. */
  areaPower?: number;
  steps?: number;
  lr?: number;
  seed?: number;
  threads?: number;
  log?: (line: string) => void;
}

export interface MlpTrainingResult {
  params: Record<string, Float32Array>;
  mean: Float32Array;
  std: Float32Array;
  hidden: [number, number];
  /** Mean loss of each logged window of steps (every 50 steps and the last). */
  losses: { step: number; loss: number }[];
}

/**
 * Trains the parameters `shapes` of `forward` (output `loss`) for opts.steps steps; `fillBatch` draws each step's
 * inputs with the run's random stream (the same stream initialises the weights first).
 */
export async function trainMlp(
  forward: Graph, shapes: Record<string, number[]>, fillBatch: (rng: TrainRng) => Record<string, Float32Array>, opts: MlpTrainingOptions,
): Promise<Pick<MlpTrainingResult, 'params' | 'losses'>> {
  const steps = opts.steps ?? 1500;
  const log = opts.log ?? (() => {});
  const names = Object.keys(shapes).sort();
  const model = await compileTraining(forward, 'loss', names, memoryWeights({}), { threads: opts.threads ?? 1, cacheDir: false, weightStorage: 'f32' });
  const rng = createTrainRng(opts.seed ?? 0);
  const params = initParams(forward, rng);
  const optimizer = { name: 'adamw' as const, weightDecay: 1e-4 };
  const state = createOptimizerState(optimizer, params);
  const schedule = { name: 'cosine' as const, lr: opts.lr ?? 3e-3, warmupSteps: Math.min(50, steps >> 3), totalSteps: steps };
  const losses: { step: number; loss: number }[] = [];
  let windowLoss = 0, windowSteps = 0;
  try {
    for (let step = 0; step < steps; step++) {
      const out = await model.step(params, fillBatch(rng));
      if (!Number.isFinite(out.loss)) throw new Error(`flat ${forward.name}: loss is ${out.loss} at step ${step}`);
      clipGradNorm(out.grads, 1);
      optimizerStep(optimizer, state, params, out.grads, learningRate(schedule, step));
      windowLoss += out.loss;
      windowSteps++;
      if ((step + 1) % 50 === 0 || step === steps - 1) {
        losses.push({ step: step + 1, loss: windowLoss / windowSteps });
        log(`step ${step + 1}/${steps}: loss ${(windowLoss / windowSteps).toFixed(4)}`);
        windowLoss = 0;
        windowSteps = 0;
      }
    }
  } finally {
    await model.release();
  }
  return { params, losses };
}
