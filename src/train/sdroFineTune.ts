// `inkflow train sdro`: fine-tunes an SDRO model (the diffusers folder pipelines/colorize/sdro.ts loads)
// on a user's folder of coloured pictures, self-supervised as the paper trains: similar pictures are
// paired (sdroPairs.ts), the second of a pair is the target and its blueprint the line input, the first
// is the reference; UNet, blueprint encoder and image encoder learn together (sdroTraining.ts). The
// result is a complete SDRO folder (VAE, scheduler and processor copied) that `inkflow colorize` loads.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { OutputExistsError, assertWritableDir } from '../files/atomicWrite.ts';
import { resolveInside } from '../files/safePath.ts';
import { readFileLimited } from '../files/readLimited.ts';
import { decodeImage, type Image } from '../imaging/image.ts';
import { resizeImage } from '../imaging/resize.ts';
import { blueprintFromColour } from '../imaging/lineart.ts';
import { loadVae } from '../models/vae/loadVae.ts';
import { downsampleFactor } from '../models/unet/config.ts';
import { loadClipVisionEncoder } from '../models/clip/visionEncoder.ts';
import { preprocessClipImage, readClipImageProcessorConfig } from '../models/clip/imageProcessor.ts';
import { readSdroArchitecture, readSdroParams, saveSdroFolder } from './sdroModelFiles.ts';
import { sdroTrainingTask, type SdroExample } from './sdroTraining.ts';
import { blueprintChw, blueprintLineArea } from './sdroExamples.ts';
import { builtinDescriptor, embeddingDescriptor, minePairs, type Descriptor } from './sdroPairs.ts';
import { runTraining, TrainError, type TrainHooks, type TrainLoopConfig } from './trainLoop.ts';
import { writeImageChw } from './syntheticImages.ts';
import type { TrainingRunSettings } from './runSettings.ts';

const IMAGE_EXTS = new Set(['.png', '.jpg', '.jpeg', '.webp']);

export interface SdroTrainingOptions extends TrainingRunSettings {
  /** The SDRO model folder to start from. */
  model: string;
  /** A folder of coloured pictures (not searched recursively). */
  data: string;
  /** The output SDRO folder (must not exist unless overwrite). */
  output: string;
  overwrite?: boolean;
  runDir: string;
  /** Training size (square, a multiple of the VAE factor × the UNet's downsampling); default the UNet's sample_size × VAE factor. */
  resolution?: number;
  /** A CLIP vision model folder to mine pairs with; the built-in descriptor when absent. */
  miningModel?: string;
  /** Cosine similarity a pair needs (default 0.9 with CLIP as in the paper, 0.8 built-in). */
  threshold?: number;
  /** Drop targets whose blueprint has fewer line pixels than this fraction (default 0.005). */
  minLineArea?: number;
  batch?: number;
}

export interface SdroDataReport {
  images: number;
  minedPairs: number;
  /** Pairs dropped because the target's blueprint was near-empty. */
  droppedPairs: number;
  keptPairs: number;
  descriptor: 'clip' | 'builtin';
  /** The kept pairs by file name (reference → target), most similar first. */
  pairs: { reference: string; target: string; similarity: number }[];
}

export interface SdroTrainingHooks extends TrainHooks {
  onStage?(msg: string): void;
  onData?(report: SdroDataReport): void;
}

export interface SdroTrainingResult extends SdroDataReport {
  output: string;
  losses: { step: number; loss: number }[];
  resumedFrom?: number;
}

/** Coloured pictures of the folder, centre-cropped and resized to `size`², with their file names. */
async function readPictures(dir: string, size: number): Promise<{ name: string; image: Image }[]> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new TrainError(`training data ${dir} is not a folder`);
  const names = readdirSync(dir).filter((n) => IMAGE_EXTS.has(extname(n).toLowerCase())).sort();
  if (names.length < 2) throw new TrainError(`${dir} holds ${names.length} picture(s) (${[...IMAGE_EXTS].join(', ')}): SDRO training pairs similar pictures, it needs at least 2`);
  const out = [];
  for (const name of names) {
    const path = resolveInside(dir, name);
    const img = await decodeImage(readFileLimited(path), 3, path);
    out.push({ name, image: resizeImage(img, size, size, 'bicubic', 'center') });
  }
  return out;
}

async function describe(images: readonly Image[], miningModel: string | undefined, opts: SdroTrainingOptions): Promise<Descriptor[]> {
  if (!miningModel) return images.map(builtinDescriptor);
  const encoder = await loadClipVisionEncoder(miningModel, { threads: opts.threads, cacheDir: opts.cacheDir });
  try {
    const folder = existsSync(join(miningModel, 'image_encoder')) ? miningModel : join(miningModel, '..');
    const candidates = [join(miningModel, 'preprocessor_config.json'), join(folder, 'clip_image_processor', 'preprocessor_config.json')];
    const cfgPath = candidates.find(existsSync);
    if (!cfgPath) throw new TrainError(`${miningModel}: no preprocessor_config.json for the CLIP image encoder (looked at ${candidates.join(', ')})`);
    const processor = readClipImageProcessorConfig(cfgPath);
    const out: Descriptor[] = [];
    for (const img of images) out.push(embeddingDescriptor((await encoder.encode(preprocessClipImage(img, processor))).pooler_output.data));
    return out;
  } finally {
    await encoder.release();
  }
}

export async function trainSdro(opts: SdroTrainingOptions, hooks: SdroTrainingHooks = {}): Promise<SdroTrainingResult> {
  if (existsSync(opts.output) && !opts.overwrite) throw new OutputExistsError(opts.output);
  assertWritableDir(join(opts.output, '..'));
  const arch = readSdroArchitecture(opts.model);
  const vae = await loadVae(join(opts.model, 'vae'), { threads: opts.threads, cacheDir: opts.cacheDir });
  try {
    const f = vae.scaleFactor;
    const size = opts.resolution ?? (typeof arch.unetJson.sample_size === 'number' ? arch.unetJson.sample_size : 64) * f;
    const multiple = f * downsampleFactor(arch.unet);
    if (!Number.isInteger(size) || size <= 0 || size % multiple !== 0) throw new TrainError(`resolution ${size} must be a positive multiple of ${multiple} (VAE factor ${f} × the UNet's downsampling)`);

    hooks.onStage?.(`reading pictures from ${opts.data}`);
    const pictures = await readPictures(opts.data, size);
    const images = pictures.map((p) => p.image);
    const descriptor = opts.miningModel ? 'clip' : 'builtin';
    hooks.onStage?.(`describing ${images.length} pictures (${descriptor === 'clip' ? 'CLIP image encoder' : 'built-in colour/layout descriptor'})`);
    const descriptors = await describe(images, opts.miningModel, opts);
    const threshold = opts.threshold ?? (descriptor === 'clip' ? 0.9 : 0.8);
    const mined = minePairs(descriptors, threshold);
    const minArea = opts.minLineArea ?? 0.005;
    const blueprints = images.map(blueprintFromColour);
    const usable = blueprints.map((b) => blueprintLineArea(b) >= minArea);
    const kept = mined.filter((p) => usable[p.target]);
    const report: SdroDataReport = {
      images: images.length, minedPairs: mined.length, droppedPairs: mined.length - kept.length, keptPairs: kept.length, descriptor,
      pairs: kept.map((p) => ({ reference: pictures[p.reference].name, target: pictures[p.target].name, similarity: p.similarity })),
    };
    hooks.onData?.(report);
    if (!kept.length) {
      throw new TrainError(`no training pairs: ${mined.length} pair(s) reached similarity ${threshold}${mined.length ? `, and all of them have near-empty blueprints (line area < ${minArea})` : ' (lower --threshold, or add more pictures of the same character)'}`);
    }

    hooks.onStage?.(`encoding ${images.length} pictures`);
    const latents: Float32Array[] = [];
    const pixels: Float32Array[] = [];
    for (const img of images) {
      const data = new Float32Array(3 * size * size);
      writeImageChw(img, data, 0);
      const enc = await vae.encode({ shape: [1, 3, size, size], data });
      latents.push(enc.mean.data.map((v) => v * vae.config.scaling_factor));
      pixels.push(preprocessClipImage(img, arch.processor).data);
    }
    const bps = blueprints.map(blueprintChw);
    const examples: SdroExample[] = kept.map((p) => ({ pixelValues: pixels[p.reference], blueprint: bps[p.target], latent: latents[p.target] }));

    const task = await sdroTrainingTask({
      arch, shapes: { batch: opts.batch ?? 1, height: size / f, width: size / f }, examples,
      initialParams: (g) => readSdroParams(opts.model, g),
      describe: { model: opts.model, data: opts.data, resolution: size, threshold, minLineArea: minArea, descriptor, miningModel: opts.miningModel ?? null, pairs: kept.length },
      minSnrGamma: opts.minSnrGamma, threads: opts.threads, cacheDir: opts.cacheDir,
    });
    const cfg: TrainLoopConfig = {
      steps: opts.steps,
      gradAccumulation: opts.gradAccumulation,
      optimizer: { name: opts.optimizer ?? 'adamw' },
      lr: opts.lr ?? 1e-5,
      schedule: opts.schedule ?? 'constant_with_warmup',
      warmupSteps: opts.warmupSteps ?? 0,
      clipGradNorm: opts.clipGradNorm ?? 1,
      emaDecay: opts.emaDecay,
      checkpointEvery: opts.checkpointEvery ?? Math.max(1, Math.min(500, Math.ceil(opts.steps / 4))),
      seed: opts.seed ?? 0,
    };
    try {
      hooks.onStage?.(`training on ${kept.length} pairs`);
      const res = await runTraining(opts.runDir, cfg, task, hooks);
      await saveSdroFolder(opts.output, arch, res.ema ?? res.params, task.shapes, join(opts.model, 'vae'), { inkflow_training_steps: String(opts.steps) });
      return { ...report, output: opts.output, losses: res.losses, resumedFrom: res.resumedFrom };
    } finally {
      await task.release();
    }
  } finally {
    await vae.release();
  }
}
