// The training loop: micro-batches → accumulated, clipped gradients → optimiser step with the
// scheduled learning rate → optional EMA; a run folder with config.json, log.jsonl (one line per
// optimiser step), loss.png, checkpoints/step-N/ every N steps and model.safetensors at the end.
// Starting on a folder that holds checkpoints resumes from the newest one exactly: parameters,
// optimiser slots, EMA and the rng state come back, and the log is cut back to that step, so the
// resumed run writes the loss curve the uninterrupted run would have written.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertWritableDir, writeFileAtomic } from '../files/atomicWrite.ts';
import { writeSafetensors } from '../weights/safetensors.ts';
import { type OptimizerConfig, createOptimizerState, optimizerStep } from './optimizer.ts';
import { type ScheduleName, learningRate } from './lrSchedule.ts';
import { accumulateGradients, clipGradNorm, gradNorm, scaleGradients } from './gradients.ts';
import { type EmaState, createEma, updateEma } from './ema.ts';
import { type TrainRng, createTrainRng } from './trainRng.ts';
import { listCheckpoints, loadCheckpoint, pruneCheckpoints, saveCheckpoint } from './checkpoint.ts';
import { type LossPoint, renderLossPlot } from './lossPlot.ts';

export class TrainError extends Error {
  override name = 'TrainError';
}

export interface TrainLoopConfig {
  /** Optimiser steps. */
  steps: number;
  /** Micro-batches summed (then averaged) per optimiser step. Default 1. */
  gradAccumulation?: number;
  optimizer: OptimizerConfig;
  lr: number;
  schedule: ScheduleName;
  warmupSteps?: number;
  /** Clip the global gradient norm to this value (none when absent). */
  clipGradNorm?: number;
  /** Keep an EMA of the parameters with this decay (none when absent). */
  emaDecay?: number;
  checkpointEvery: number;
  /** Checkpoints kept on disk (newest). Default 3. */
  keepCheckpoints?: number;
  seed: number;
}

/** What is trained: the parameters, how to start them, and one forward+backward on a drawn micro-batch. */
export interface TrainTask {
  readonly shapes: Readonly<Record<string, readonly number[]>>;
  initialParams(): Record<string, Float32Array>;
  microStep(params: Readonly<Record<string, Float32Array>>, rng: TrainRng): Promise<{ loss: number; grads: Record<string, Float32Array> }>;
  /** Task settings written to config.json beside the loop's (a resume must match them). */
  describe(): Record<string, unknown>;
}

export interface TrainProgress {
  step: number;
  steps: number;
  loss: number;
  lr: number;
  gradNorm: number;
  /** Optimiser steps per second over this session. */
  stepsPerSecond: number;
}

export interface TrainHooks {
  onProgress?(p: TrainProgress): void | Promise<void>;
  /** After each checkpoint, with the parameters as saved in it. */
  onCheckpoint?(step: number, dir: string, params: Readonly<Record<string, Float32Array>>): void | Promise<void>;
}

export interface TrainResult {
  params: Record<string, Float32Array>;
  ema?: Record<string, Float32Array>;
  losses: LossPoint[];
  /** The checkpoint step the run resumed from (undefined for a fresh start). */
  resumedFrom?: number;
}

export interface LogLine extends LossPoint {
  lr: number;
  gradNorm: number;
}

export function readLog(runDir: string): LogLine[] {
  const path = join(runDir, 'log.jsonl');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as LogLine);
}

function checkConfig(cfg: TrainLoopConfig): void {
  const bad = (msg: string) => { throw new TrainError(`training config: ${msg}`); };
  if (!Number.isInteger(cfg.steps) || cfg.steps < 1) bad(`steps must be a positive integer, got ${cfg.steps}`);
  if (!Number.isInteger(cfg.checkpointEvery) || cfg.checkpointEvery < 1) bad(`checkpointEvery must be a positive integer, got ${cfg.checkpointEvery}`);
  if (cfg.gradAccumulation !== undefined && (!Number.isInteger(cfg.gradAccumulation) || cfg.gradAccumulation < 1)) bad(`gradAccumulation must be a positive integer, got ${cfg.gradAccumulation}`);
  if (!(cfg.lr > 0)) bad(`lr must be positive, got ${cfg.lr}`);
  if (cfg.emaDecay !== undefined && !(cfg.emaDecay > 0 && cfg.emaDecay < 1)) bad(`emaDecay must be in (0, 1), got ${cfg.emaDecay}`);
  if (cfg.clipGradNorm !== undefined && !(cfg.clipGradNorm > 0)) bad(`clipGradNorm must be positive, got ${cfg.clipGradNorm}`);
}

export async function runTraining(runDir: string, cfg: TrainLoopConfig, task: TrainTask, hooks: TrainHooks = {}): Promise<TrainResult> {
  checkConfig(cfg);
  assertWritableDir(runDir);
  const configText = `${JSON.stringify({ train: cfg, task: task.describe() }, null, 2)}\n`;
  const configPath = join(runDir, 'config.json');
  if (existsSync(configPath)) {
    if (readFileSync(configPath, 'utf8') !== configText) throw new TrainError(`${runDir} holds a run with a different config.json: resume with the same settings, or use a new folder`);
  } else {
    writeFileAtomic(configPath, new TextEncoder().encode(configText));
  }
  const ckptRoot = join(runDir, 'checkpoints');
  const logPath = join(runDir, 'log.jsonl');
  const done = listCheckpoints(ckptRoot);

  let params: Record<string, Float32Array>;
  let optimizer;
  let ema: EmaState | undefined;
  let rng: TrainRng;
  let step: number;
  let resumedFrom: number | undefined;
  if (done.length) {
    resumedFrom = done[done.length - 1];
    const c = loadCheckpoint(ckptRoot, resumedFrom);
    params = c.params;
    optimizer = c.optimizer;
    ema = cfg.emaDecay ? c.ema ?? createEma(params) : undefined;
    rng = createTrainRng(c.state.rng);
    step = c.state.step;
    // Steps logged after the checkpoint by the interrupted process are redone: cut them.
    const kept = readLog(runDir).filter((l) => l.step <= step);
    writeFileSync(logPath, kept.map((l) => `${JSON.stringify(l)}\n`).join(''));
  } else {
    params = task.initialParams();
    optimizer = createOptimizerState(cfg.optimizer, params);
    ema = cfg.emaDecay ? createEma(params) : undefined;
    rng = createTrainRng(cfg.seed);
    step = 0;
    writeFileSync(logPath, '');
  }
  for (const name of Object.keys(task.shapes)) if (!params[name]) throw new TrainError(`checkpoint has no parameter "${name}": it belongs to another run`);

  const accum = cfg.gradAccumulation ?? 1;
  const started = performance.now();
  const startStep = step;
  while (step < cfg.steps) {
    const sum: Record<string, Float32Array> = {};
    let lossSum = 0;
    for (let m = 0; m < accum; m++) {
      const r = await task.microStep(params, rng);
      if (!Number.isFinite(r.loss)) throw new TrainError(`loss is ${r.loss} at step ${step + 1}: lower the learning rate or check the data`);
      accumulateGradients(sum, r.grads);
      lossSum += r.loss;
    }
    scaleGradients(sum, 1 / accum);
    const norm = cfg.clipGradNorm ? clipGradNorm(sum, cfg.clipGradNorm) : gradNorm(sum);
    const lr = learningRate({ name: cfg.schedule, lr: cfg.lr, warmupSteps: cfg.warmupSteps, totalSteps: cfg.steps }, step);
    optimizerStep(cfg.optimizer, optimizer, params, sum, lr);
    if (ema) updateEma(ema, params, cfg.emaDecay!);
    step += 1;
    const line: LogLine = { step, loss: lossSum / accum, lr, gradNorm: norm };
    appendFileSync(logPath, `${JSON.stringify(line)}\n`);
    const elapsed = (performance.now() - started) / 1000;
    await hooks.onProgress?.({ step, steps: cfg.steps, loss: line.loss, lr, gradNorm: norm, stepsPerSecond: (step - startStep) / Math.max(1e-9, elapsed) });
    if (step % cfg.checkpointEvery === 0 || step === cfg.steps) {
      const dir = await saveCheckpoint(ckptRoot, { state: { step, rng: rng.state(), optimizerStep: optimizer.step }, params, optimizer, ema }, task.shapes);
      pruneCheckpoints(ckptRoot, cfg.keepCheckpoints ?? 3);
      await writeLossPlot(runDir);
      await hooks.onCheckpoint?.(step, dir, params);
    }
  }
  const tensors = (values: Record<string, Float32Array>) => Object.entries(values).map(([name, data]) => ({ name, dtype: 'F32' as const, shape: [...task.shapes[name]], data }));
  await writeSafetensors(join(runDir, 'model.safetensors'), tensors(params));
  if (ema) await writeSafetensors(join(runDir, 'model_ema.safetensors'), tensors(ema.shadow));
  await writeLossPlot(runDir);
  return { params, ema: ema?.shadow, losses: readLog(runDir), resumedFrom };
}

async function writeLossPlot(runDir: string): Promise<void> {
  const png = await renderLossPlot(readLog(runDir), `training loss — ${runDir.split(/[\\/]/).pop()}`);
  writeFileAtomic(join(runDir, 'loss.png'), png, { overwrite: true });
}
