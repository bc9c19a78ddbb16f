// `inkflow train sdro`: thin wrapper over train/sdroFineTune.ts — parses options, reports the mined
// pairs and a progress bar, and says where the model and the run folder went.
import { resolve } from 'node:path';
import { trainSdro, type SdroTrainingOptions } from '../../train/sdroFineTune.ts';
import { SCHEDULES, type ScheduleName } from '../../train/lrSchedule.ts';
import type { OptimizerName } from '../../train/optimizer.ts';
import { UsageError } from '../command.ts';
import { optionalNumber, parseOptions } from '../options.ts';
import { writeTrainProgress } from '../progress.ts';

export const TRAIN_SDRO_HELP = `usage: inkflow train sdro --model SDRO_DIR --data DIR -o OUT_DIR --steps N [options]

Fine-tunes a Stable Diffusion Reference Only model (a diffusers SDRO folder, e.g. models/default/sdro)
on a folder of coloured pictures, self-supervised: similar pictures are paired (reference → target),
the target's blueprint is made as inference makes it (adaptive threshold MEAN 5/7, inverted), pairs with
near-empty blueprints are dropped, and UNet, blueprint encoder and image encoder learn together (MSE on
ε). The output is a complete SDRO folder for inkflow colorize --model. Stopped runs resume.

data:
  --data DIR              folder of .png/.jpg/.webp pictures (centre-cropped to the training size)
  --resolution N          training size (default: the UNet's sample_size × the VAE factor)
  --mining-model DIR      CLIP vision model (folder with config.json, model.safetensors and
                          preprocessor_config.json, or an SDRO folder's image_encoder/) to pair
                          pictures by embedding similarity; default a built-in colour/layout descriptor
  --threshold X           cosine similarity a pair needs (default 0.9 with CLIP, 0.8 built-in)
  --min-line-area X       drop targets whose blueprint lines cover less than this fraction (default 0.005)

optimisation:
  --steps N               optimiser steps (required)
  --batch N               pairs per micro-batch (default 1)
  --grad-accum N          micro-batches per step (default 1)
  --lr X                  default 1e-5
  --optimizer NAME        adamw (default), adam, sgd
  --scheduler NAME        ${SCHEDULES.join(', ')} (default constant_with_warmup)
  --warmup N              warmup steps (default 0)
  --clip-grad X           global gradient-norm clip (default 1)
  --ema X                 keep an EMA with this decay and save it as the model
  --min-snr-gamma X       min-SNR-γ loss weighting (default off)
  --seed N                default 0
  --save-every N          checkpoint every N steps (default steps/4)

output:
  -o, --output DIR        the new SDRO folder (refuses to overwrite unless --overwrite)
  --run DIR               run folder: config.json, log.jsonl, loss.png, checkpoints/ (default OUT_DIR.run/)
  --threads N             ORT intra-op threads`;


export function sdroTrainingOptions(argv: string[]): SdroTrainingOptions {
  const str = { type: 'string' } as const;
  const flag = { type: 'boolean' } as const;
  const { values } = parseOptions('train sdro', argv, {
    model: str, data: str, resolution: str, 'mining-model': str, threshold: str, 'min-line-area': str, steps: str, batch: str, 'grad-accum': str,
    lr: str, optimizer: str, scheduler: str, warmup: str, 'clip-grad': str, ema: str, 'min-snr-gamma': str, seed: str, 'save-every': str,
    output: { type: 'string', short: 'o' }, run: str, overwrite: flag, threads: str,
  });
  for (const need of ['model', 'data', 'output', 'steps'] as const) if (values[need] === undefined) throw new UsageError(`train sdro: --${need} is required (inkflow train --help)`);
  const optimizer = values.optimizer ?? 'adamw';
  if (!['adamw', 'adam', 'sgd'].includes(optimizer)) throw new UsageError(`--optimizer must be adamw, adam or sgd, got "${optimizer}"`);
  const scheduler = values.scheduler ?? 'constant_with_warmup';
  if (!SCHEDULES.includes(scheduler as ScheduleName)) throw new UsageError(`--scheduler must be one of ${SCHEDULES.join(', ')}, got "${scheduler}"`);
  const threshold = optionalNumber(values, 'threshold');
  if (threshold !== undefined && (threshold < -1 || threshold > 1)) throw new UsageError(`--threshold is a cosine similarity in [-1, 1], got ${threshold}`);
  const steps = optionalNumber(values, 'steps', true)!;
  if (steps < 1) throw new UsageError(`--steps must be at least 1, got ${steps}`);
  const output = resolve(values.output!);
  return {
    model: values.model!, data: values.data!, output, overwrite: values.overwrite, runDir: resolve(values.run ?? `${output}.run`),
    resolution: optionalNumber(values, 'resolution', true), miningModel: values['mining-model'], threshold, minLineArea: optionalNumber(values, 'min-line-area'),
    steps, batch: optionalNumber(values, 'batch', true), gradAccumulation: optionalNumber(values, 'grad-accum', true), lr: optionalNumber(values, 'lr'),
    optimizer: optimizer as OptimizerName, schedule: scheduler as ScheduleName, warmupSteps: optionalNumber(values, 'warmup', true),
    clipGradNorm: optionalNumber(values, 'clip-grad'), emaDecay: optionalNumber(values, 'ema'), minSnrGamma: optionalNumber(values, 'min-snr-gamma'),
    seed: optionalNumber(values, 'seed', true), checkpointEvery: optionalNumber(values, 'save-every', true), threads: optionalNumber(values, 'threads', true),
  };
}

export async function runTrainSdro(argv: string[]): Promise<number> {
  const opts = sdroTrainingOptions(argv);
  const res = await trainSdro(opts, {
    onStage: (msg) => process.stderr.write(`${msg}\n`),
    onData: (r) => process.stderr.write(`${r.images} pictures → ${r.minedPairs} pairs by ${r.descriptor} similarity, ${r.droppedPairs} dropped (near-empty blueprints), ${r.keptPairs} kept\n`),
    onProgress: (p) => writeTrainProgress(p),
  });
  if (res.resumedFrom !== undefined) console.log(`resumed from step ${res.resumedFrom}`);
  console.log(`saved ${res.output} (SDRO folder, ${res.keptPairs} training pairs from ${res.images} pictures); run folder ${opts.runDir} (loss.png, log.jsonl)`);
  return 0;
}
