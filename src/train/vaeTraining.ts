// Training an AutoencoderKL from scratch (the bundled tiny default VAE): the encoder's posterior is
// sampled with fed noise (z = μ + σ·ε, the reparameterisation trick), decoded, and scored with
//   loss = mean|x̂ − x| + mean (x̂ − x)² + klWeight · mean ½(μ² + σ² − 1 − log σ²)
// (L1 keeps flat colours and edges sharp, L2 punishes rare big errors, the small KL keeps the latent
// near unit scale so a diffusion model can learn in it). Parameters carry diffusers' AutoencoderKL
// names, so the saved folder loads through models/vae/loadVae.ts (and diffusers) as it is.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGraph, type Graph } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import { conv2d } from '../graph/nn.ts';
import { memoryWeights } from '../graph/weights.ts';
import type { VaeConfig } from '../models/vae/config.ts';
import { vaeEncoder } from '../models/vae/encoder.ts';
import { vaeDecoder } from '../models/vae/decoder.ts';
import { loadVae } from '../models/vae/loadVae.ts';
import { psnr } from '../imaging/metrics.ts';
import { openSafetensors, writeSafetensors } from '../weights/safetensors.ts';
import { compileTraining, type TrainingModel } from './trainingGraph.ts';
import type { TrainTask } from './trainLoop.ts';
import { createTrainRng, type TrainRng } from './trainRng.ts';
import { initParams, paramShapes } from './initParams.ts';
import { chwToImage, syntheticCharacterImage, writeImageChw, HELD_OUT_SEED_BASE } from './syntheticImages.ts';
import type { Image } from '../imaging/image.ts';

export interface VaeTrainingSetup {
  config: VaeConfig;
  /** Image side in pixels (square). */
  size: number;
  batch: number;
  klWeight: number;
}

const allAxes = (rank: number) => Array.from({ length: rank }, (_, i) => i);

/** Forward graph with inputs `image` [B,3,S,S] and `eps` (posterior noise) and output `loss`. */
export function vaeTrainingGraph(s: VaeTrainingSetup): Graph {
  const cfg = s.config;
  const g = createGraph('vae_train');
  const x = g.input('image', 'f32', [s.batch, cfg.in_channels, s.size, s.size]);
  let moments = vaeEncoder(x, cfg);
  const l = cfg.latent_channels;
  if (cfg.use_quant_conv) moments = conv2d(moments, 'quant_conv', 2 * l, 2 * l, 1);
  const mean = op.slice(moments, [1], [0], [l]);
  const logvar = op.minimum(op.maximum(op.slice(moments, [1], [l], [2 * l]), -30), 20);
  const eps = g.input('eps', 'f32', mean.shape);
  let z = op.add(mean, op.mul(op.exp(op.mul(logvar, 0.5)), eps));
  if (cfg.use_post_quant_conv) z = conv2d(z, 'post_quant_conv', l, l, 1);
  const recon = vaeDecoder(z, cfg);
  const d = op.sub(recon, x);
  const axes = allAxes(4);
  const rec = op.add(op.reduceMean(op.abs(d), axes, false), op.reduceMean(op.mul(d, d), axes, false));
  const kl = op.mul(op.reduceMean(op.sub(op.add(op.mul(mean, mean), op.exp(logvar)), op.add(logvar, 1)), axes, false), 0.5);
  g.output('loss', op.add(rec, op.mul(kl, s.klWeight)));
  return g;
}

/** The picture a training draw gives: a random seed's sheet or pose view, mirrored half the time. */
export function drawTrainingImage(rng: TrainRng, size: number): Image {
  const seed = rng.below(HELD_OUT_SEED_BASE);
  const view = rng.below(2) === 0 ? 'sheet' : 'pose';
  return syntheticCharacterImage(seed, size, view, rng.below(2) === 1);
}

export interface VaeTask extends TrainTask {
  release(): Promise<void>;
}

export interface VaeTaskOptions {
  initSeed: number;
  threads?: number;
  cacheDir?: string | false;
  /** Weights to start from (every parameter of the graph, e.g. readVaeParams of a saved folder); fresh init when absent. */
  start?: Readonly<Record<string, Float32Array>>;
  /** Which parameters train (default all); the others stay frozen at `start`. */
  trainable?: (name: string) => boolean;
}

/** The decoder side of the VAE (post_quant_conv + decoder): training only these keeps the latent space as it is. */
export const isVaeDecoderParam = (name: string): boolean => name.startsWith('decoder.') || name.startsWith('post_quant_conv.');

/** The parameters of `graph` read from a saved VAE folder (diffusers names, f32). */
export function readVaeParams(dir: string, graph: Graph): Record<string, Float32Array> {
  const r = openSafetensors(join(dir, 'diffusion_pytorch_model.safetensors'));
  try {
    return Object.fromEntries([...graph.params.keys()].map((name) => [name, r.readF32(name)]));
  } finally {
    r.close();
  }
}

/** A TrainTask over synthetic character images: all parameters, or the `trainable` ones with the rest frozen. */
export async function vaeTrainingTask(s: VaeTrainingSetup, opts: VaeTaskOptions): Promise<VaeTask> {
  const forward = vaeTrainingGraph(s);
  const all = [...forward.params.keys()].sort();
  const trainable = all.filter(opts.trainable ?? (() => true));
  if (trainable.length < all.length && !opts.start) throw new Error('VAE training: freezing parameters needs starting weights (opts.start)');
  const allShapes = paramShapes(forward);
  const shapes = Object.fromEntries(trainable.map((n) => [n, allShapes[n]]));
  const frozen = Object.fromEntries(all.filter((n) => !trainable.includes(n)).map((n) => [n, opts.start![n]]));
  const model: TrainingModel = await compileTraining(forward, 'loss', trainable, memoryWeights(frozen, allShapes), { threads: opts.threads, cacheDir: opts.cacheDir, weightStorage: 'f32' });
  const per = 3 * s.size * s.size;
  const l = s.config.latent_channels;
  const f = 2 ** (s.config.block_out_channels.length - 1);
  return {
    shapes,
    initialParams: () => {
      const p = opts.start ?? initParams(forward, createTrainRng(opts.initSeed));
      return Object.fromEntries(trainable.map((n) => [n, Float32Array.from(p[n])]));
    },
    async microStep(params, rng) {
      const image = new Float32Array(s.batch * per);
      for (let b = 0; b < s.batch; b++) writeImageChw(drawTrainingImage(rng, s.size), image, b * per);
      const eps = rng.normals(s.batch * l * (s.size / f) ** 2);
      const r = await model.step(params, { image, eps });
      return { loss: r.loss, grads: r.grads };
    },
    describe: () => ({ kind: 'vae', config: s.config, size: s.size, batch: s.batch, klWeight: s.klWeight, initSeed: opts.initSeed, started: Boolean(opts.start), trainable: trainable.length }),
    release: () => model.release(),
  };
}

/** Writes a diffusers `vae/` folder: config.json + diffusion_pytorch_model.safetensors (f32). */
export async function saveVaeFolder(dir: string, config: VaeConfig, params: Readonly<Record<string, Float32Array>>, shapes: Readonly<Record<string, readonly number[]>>, metadata: Record<string, string> = {}): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const tensors = Object.keys(params).sort().map((name) => ({ name, dtype: 'F32' as const, shape: [...shapes[name]], data: params[name] }));
  await writeSafetensors(join(dir, 'diffusion_pytorch_model.safetensors'), tensors, { format: 'pt', ...metadata });
  const full = { _class_name: 'AutoencoderKL', _diffusers_version: '0.27.0', ...config, down_block_types: config.block_out_channels.map(() => 'DownEncoderBlock2D'), up_block_types: config.block_out_channels.map(() => 'UpDecoderBlock2D') };
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(full, null, 2)}\n`);
}

export interface VaeEvaluation {
  /** Mean PSNR (dB) of decode(mean(encode(x))) against x over the held-out images. */
  psnr: number;
  /** Standard deviation of the posterior means: 1/std is the scaling factor diffusion needs. */
  latentStd: number;
  latentMean: number;
  images: number;
  /** The first few originals and reconstructions, for looking at. */
  samples: { original: Image; reconstruction: Image }[];
}

/** Reconstruction quality on held-out seeds (HELD_OUT_SEED_BASE + i), through the real loader. */
export async function evaluateVaeFolder(dir: string, size: number, count: number, opts: { threads?: number; cacheDir?: string | false; keepSamples?: number } = {}): Promise<VaeEvaluation> {
  const vae = await loadVae(dir, { threads: opts.threads, cacheDir: opts.cacheDir });
  try {
    let sum = 0;
    let s1 = 0;
    let s2 = 0;
    let n = 0;
    const samples: VaeEvaluation['samples'] = [];
    for (let i = 0; i < count; i++) {
      const original = syntheticCharacterImage(HELD_OUT_SEED_BASE + i, size, i % 2 === 0 ? 'sheet' : 'pose');
      const data = new Float32Array(3 * size * size);
      writeImageChw(original, data, 0);
      const enc = await vae.encode({ shape: [1, 3, size, size], data });
      for (const v of enc.mean.data) {
        s1 += v;
        s2 += v * v;
        n++;
      }
      const dec = await vae.decode(enc.mean);
      const reconstruction = chwToImage(dec.data, 0, size, size);
      sum += Math.min(100, psnr(original, reconstruction));
      if (samples.length < (opts.keepSamples ?? 4)) samples.push({ original, reconstruction });
    }
    const latentMean = s1 / n;
    return { psnr: sum / count, latentMean, latentStd: Math.sqrt(Math.max(0, s2 / n - latentMean * latentMean)), images: count, samples };
  } finally {
    await vae.release();
  }
}
