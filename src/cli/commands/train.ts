// `inkflow train lora` (and `train sdro`, in trainSdro.ts): thin wrapper over train/loraTraining.ts — parses options, shows a progress
// bar with loss and it/s, and says where the run folder and the LoRA went.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../../files/atomicWrite.ts';
import { encodePng } from '../../imaging/image.ts';
import { loadCheckpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import { generate } from '../../pipelines/generate/generate.ts';
import { trainLora, type LoraTrainingOptions } from '../../train/loraTraining.ts';
import { SCHEDULES, type ScheduleName } from '../../train/lrSchedule.ts';
import type { OptimizerName } from '../../train/optimizer.ts';
import { type Command, UsageError } from '../command.ts';
import { optionalNumber, parseOptions } from '../options.ts';
import { writeTrainProgress } from '../progress.ts';
import { runTrainSdro, TRAIN_SDRO_HELP } from './trainSdro.ts';

const HELP = `usage: inkflow train lora --model CKPT --data DIR -o OUT.safetensors [options]

Trains a LoRA (kohya format, ss_* metadata: loads in ComfyUI, A1111 and inkflow --lora) on the
attention projections of a Stable Diffusion 1.x/2.x UNet (optionally its convs, LoCon, and the text encoder). Stopped runs resume: run the same command
again and training continues from the newest checkpoint in the run folder with the same loss curve.

data (kohya conventions):
  --data DIR              folder of <repeats>_<trigger> <class>/ subfolders (or their parent with img/);
                          image.png + image.txt caption ("trigger, class, details"); no .txt = folder name
  --reg DIR               regularisation images, same layout
  --resolution N          training size in pixels (default 512; a multiple of 64)
  --buckets               aspect-ratio buckets of about N² pixels instead of centre-cropping to N×N
  --shuffle-caption       shuffle comma-separated tags each time an image is drawn
  --keep-tokens N         keep the first N tags in place when shuffling (default 0)
  --caption-dropout X     probability of training with an empty caption (default 0)
  --clip-skip N           1 = last CLIP layer (default), 2 = penultimate

LoRA and objective:
  --rank N                default 16
  --alpha X               default = rank (scale alpha/rank = 1)
  --conv-rank N           LoCon: also train the ResBlock and up/down-sampler convs (3×3 at rank N,
                          1×1 at --rank; kohya conv_dim)
  --conv-alpha X          kohya conv_alpha (default = conv rank)
  --train-text-encoder    also train LoRAs on the text encoder's attention and MLP (lora_te_ keys)
  --batch-size N          images per micro-step, from one bucket (default 1)
  --prediction eps|v      default: what the checkpoint says
  --min-snr-gamma X       min-SNR-γ loss weighting (kohya's 5 is usual; default off)
  --noise-offset X        kohya noise offset (e.g. 0.05; default off)

optimisation:
  --steps N               optimiser steps (required)
  --grad-accum N          micro-batches per step (default 1)
  --lr X                  default 1e-4
  --optimizer NAME        adamw (default), adam, sgd
  --scheduler NAME        ${SCHEDULES.join(', ')} (default constant_with_warmup)
  --warmup N              warmup steps (default 0)
  --clip-grad X           clip the global gradient norm
  --ema X                 also keep an EMA of the LoRA with this decay (model_ema.safetensors in the run)
  --seed N                default 0
  --save-every N          checkpoint every N steps (default steps/4)

samples (after each checkpoint, with the LoRA as it is then; kohya's --sample_prompts):
  --sample-prompt TEXT    generate <run>/samples/step-N.png from this prompt (repeatable)
  --sample-steps N        default 20 (dpmpp_2m, karras, cfg 7)
  --sample-seed N         default 0

output:
  -o, --output FILE       the LoRA .safetensors (refuses to overwrite unless --overwrite)
  --run DIR               run folder: config.json, log.jsonl, loss.png, checkpoints/, loras/ (the LoRA
                          at each checkpoint, name-NNNNNN.safetensors), samples/ (default OUT.run/)
  --tokenizer DIR         CLIP vocab.json + merges.txt (single-file checkpoints carry none)
  --threads N             ORT intra-op threads`;


interface SampleOptions {
  prompts: string[];
  steps: number;
  seed: number;
}

function loraOptions(argv: string[]): { lora: LoraTrainingOptions; samples: SampleOptions } {
  const str = { type: 'string' } as const;
  const flag = { type: 'boolean' } as const;
  const { values } = parseOptions('train lora', argv, {
    model: str, data: str, reg: str, resolution: str, buckets: flag, 'shuffle-caption': flag, 'keep-tokens': str, 'caption-dropout': str,
    'clip-skip': str, rank: str, alpha: str, 'conv-rank': str, 'conv-alpha': str, 'train-text-encoder': flag, 'batch-size': str, prediction: str, 'min-snr-gamma': str, 'noise-offset': str, steps: str, 'grad-accum': str,
    lr: str, optimizer: str, scheduler: str, warmup: str, 'clip-grad': str, ema: str, seed: str, 'save-every': str,
    output: { type: 'string', short: 'o' }, run: str, overwrite: flag, tokenizer: str, threads: str,
    'sample-prompt': { type: 'string', multiple: true }, 'sample-steps': str, 'sample-seed': str,
  });
  for (const need of ['model', 'data', 'output', 'steps'] as const) if (values[need] === undefined) throw new UsageError(`train lora: --${need} is required (inkflow train lora --help)`);
  const optimizer = values.optimizer ?? 'adamw';
  if (!['adamw', 'adam', 'sgd'].includes(optimizer)) throw new UsageError(`--optimizer must be adamw, adam or sgd, got "${optimizer}"`);
  const scheduler = values.scheduler ?? 'constant_with_warmup';
  if (!SCHEDULES.includes(scheduler as ScheduleName)) throw new UsageError(`--scheduler must be one of ${SCHEDULES.join(', ')}, got "${scheduler}"`);
  const prediction = values.prediction;
  if (prediction !== undefined && prediction !== 'eps' && prediction !== 'v') throw new UsageError(`--prediction must be eps or v, got "${prediction}"`);
  const output = resolve(values.output!);
  const resolution = optionalNumber(values, 'resolution', true);
  if (resolution !== undefined && (resolution < 64 || resolution % 64)) throw new UsageError(`--resolution must be a multiple of 64, got ${resolution}`);
  const samples = { prompts: values['sample-prompt'] ?? [], steps: optionalNumber(values, 'sample-steps', true) ?? 20, seed: optionalNumber(values, 'sample-seed', true) ?? 0 };
  const lora: LoraTrainingOptions = {
    model: values.model!, data: values.data!, regularization: values.reg, output, overwrite: values.overwrite,
    runDir: resolve(values.run ?? `${output.replace(/\.safetensors$/, '')}.run`),
    resolution, buckets: values.buckets,
    captions: { shuffle: values['shuffle-caption'], keepTokens: optionalNumber(values, 'keep-tokens', true), dropout: optionalNumber(values, 'caption-dropout') },
    clipSkip: optionalNumber(values, 'clip-skip', true), rank: optionalNumber(values, 'rank', true), alpha: optionalNumber(values, 'alpha'),
    convRank: optionalNumber(values, 'conv-rank', true), convAlpha: optionalNumber(values, 'conv-alpha'), textEncoder: values['train-text-encoder'], batchSize: optionalNumber(values, 'batch-size', true),
    prediction: prediction === 'v' ? 'v_prediction' : prediction === 'eps' ? 'eps' : undefined,
    minSnrGamma: optionalNumber(values, 'min-snr-gamma'), noiseOffset: optionalNumber(values, 'noise-offset'),
    steps: optionalNumber(values, 'steps', true)!, gradAccumulation: optionalNumber(values, 'grad-accum', true), lr: optionalNumber(values, 'lr'),
    optimizer: optimizer as OptimizerName, schedule: scheduler as ScheduleName, warmupSteps: optionalNumber(values, 'warmup', true),
    clipGradNorm: optionalNumber(values, 'clip-grad'), emaDecay: optionalNumber(values, 'ema'), seed: optionalNumber(values, 'seed', true), checkpointEvery: optionalNumber(values, 'save-every', true),
    tokenizerDir: values.tokenizer, threads: optionalNumber(values, 'threads', true),
  };
  return { lora, samples };
}

/** Renders the sample prompts with the LoRA saved at `step` into `<run>/samples/`. */
async function renderSamples(opts: LoraTrainingOptions, samples: SampleOptions, step: number, loraPath: string): Promise<void> {
  const size = opts.resolution ?? 512;
  const ckpt = loadCheckpoint(opts.model, { tokenizerDir: opts.tokenizerDir, threads: opts.threads, cacheDir: opts.cacheDir, residency: 'one' });
  try {
    const dir = join(opts.runDir, 'samples');
    mkdirSync(dir, { recursive: true });
    for (const [k, prompt] of samples.prompts.entries()) {
      const res = await generate(ckpt, { prompt, seed: samples.seed, steps: samples.steps, cfg: 7, sampler: 'dpmpp_2m', scheduler: 'karras', width: size, height: size, loras: [{ path: loraPath, strengthModel: 1, strengthClip: 1 }], clipSkip: opts.clipSkip });
      const name = `step-${String(step).padStart(6, '0')}${samples.prompts.length > 1 ? `-${k}` : ''}.png`;
      writeFileAtomic(join(dir, name), await encodePng(res.images[0], { inkflow: JSON.stringify({ prompt, step, seed: samples.seed, lora: loraPath }) }), { overwrite: true });
    }
  } finally {
    await ckpt.release();
  }
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'train a LoRA on a kohya dataset folder, or fine-tune an SDRO model on a picture folder (resumable)',
  help: `${HELP}\n\n${TRAIN_SDRO_HELP}`,
  async run(argv) {
    const [what, ...rest] = argv;
    if (what === 'sdro') return runTrainSdro(rest);
    if (what !== 'lora') throw new UsageError(`train: unknown target "${what ?? ''}"; available: lora, sdro (inkflow train --help)`);
    const { lora: opts, samples } = loraOptions(rest);
    const res = await trainLora(opts, {
      onStage: (msg) => process.stderr.write(`${msg}\n`),
      onLoraSaved: samples.prompts.length ? (step, path) => renderSamples(opts, samples, step, path) : undefined,
      onProgress: (p) => writeTrainProgress(p),
    });
    if (res.resumedFrom !== undefined) console.log(`resumed from step ${res.resumedFrom}`);
    console.log(`saved ${res.output} (${res.modules} LoRA modules); run folder ${opts.runDir} (loss.png, log.jsonl)`);
    return 0;
  },
};
