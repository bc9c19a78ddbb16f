// `inkflow train lora`: a character/style LoRA from a kohya dataset folder on any SD1.x/2.x checkpoint.
// Orchestration only — latents are cached (latentCache.ts), captions augmented (captions.ts), the UNet
// differentiated with LoRA branches (lora.ts + graph/autodiff.ts), the loop is trainLoop.ts, and the
// result a kohya .safetensors that ComfyUI, A1111 and inkflow's LoRA loader read.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OutputExistsError, assertWritableDir } from '../files/atomicWrite.ts';
import { createGraph, type Graph } from '../graph/graph.ts';
import type { WeightStore } from '../graph/weights.ts';
import { layerNorm } from '../graph/nn.ts';
import { openSafetensors, type SafetensorsReader } from '../weights/safetensors.ts';
import { detectClipTextLayout, ldmClipTextWeights } from '../weights/keymaps/ldmClip.ts';
import { resolveComponent } from '../models/modelFolder.ts';
import { clipTextStates } from '../models/clip/textEncoder.ts';
import type { ClipTextConfig } from '../models/clip/config.ts';
import { buildUNet } from '../models/unet/unet.ts';
import { loadCheckpoint } from '../models/checkpoint/loadCheckpoint.ts';
import { buildUNetGraph, openUNetCheckpoint, unetWeights } from '../models/unet/load.ts';
import type { UNetConfig } from '../models/unet/config.ts';
import type { PredictionType } from '../models/predictionType.ts';
import { weightedTokenChunks } from '../models/prompt/weights.ts';
import { alphasCumprod, makeBetas } from '../sampling/diffusers/betas.ts';
import { readKohyaDataset, tagFrequency, type DatasetItem } from './kohyaDataset.ts';
import { augmentCaption, type CaptionOptions } from './captions.ts';
import { type Bucket, makeBuckets, nearestBucket } from './buckets.ts';
import { cachedLatent, type CachedLatent } from './latentCache.ts';
import { ATTENTION_PROJECTIONS, RESNET_CONVS, TEXT_ENCODER_TARGETS, addLoraBranches, initLoraParams, loraShapes, saveKohyaLora, type LoraConfig, type LoraModule } from './lora.ts';
import { diffusionBatch, weightedMse } from './diffusionObjective.ts';
import { compileTraining, type TrainingModel } from './trainingGraph.ts';
import { runTraining, type TrainHooks, type TrainLoopConfig } from './trainLoop.ts';
import { createTrainRng, type TrainRng } from './trainRng.ts';
import type { TrainingRunSettings } from './runSettings.ts';
import { decodeImage } from '../imaging/image.ts';
import { readFileLimited } from '../files/readLimited.ts';

export interface LoraTrainingOptions extends TrainingRunSettings {
  model: string;
  data: string;
  regularization?: string;
  runDir: string;
  output: string;
  overwrite?: boolean;
  rank?: number;
  alpha?: number;
  /** LoCon: also train the ResBlock / down- / up-sampler convs, 3×3 ones at this rank (kohya conv_dim). */
  convRank?: number;
  /** kohya conv_alpha (default convRank). */
  convAlpha?: number;
  /** Also train LoRAs on the text encoder's attention and MLP (kohya lora_te_ keys). */
  textEncoder?: boolean;
  /** Images per micro-step (all from one bucket, as kohya batches), default 1. */
  batchSize?: number;
  /** Side of the square training size in pixels (with buckets: the bucket area), default 512. */
  resolution?: number;
  buckets?: boolean;
  prediction?: PredictionType;
  noiseOffset?: number;
  captions?: CaptionOptions;
  clipSkip?: number;
  tokenizerDir?: string;
}

export interface LoraTrainingHooks extends TrainHooks {
  onStage?(msg: string): void;
  /** After each checkpoint: the LoRA as it is at `step`, saved as `<run>/loras/<name>-<step>.safetensors` (kohya's naming). */
  onLoraSaved?(step: number, path: string): void | Promise<void>;
}

export interface LoraTrainingResult {
  output: string;
  modules: number;
  losses: { step: number; loss: number }[];
  resumedFrom?: number;
}

/** SD's training noise schedule (scaled_linear 0.00085–0.012, 1000 steps), as kohya assumes. */
const SD_ALPHAS_CUMPROD = () => alphasCumprod(makeBetas({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, num_train_timesteps: 1000, trained_betas: null }));

function openUNetStore(model: string) {
  const dir = statSync(model).isDirectory() ? join(model, 'unet') : model;
  const ckpt = openUNetCheckpoint(dir);
  return { config: ckpt.config, store: unetWeights(ckpt.reader, ckpt.config).store, reader: ckpt.reader };
}

/** UNet (with cached text states as input) + weighted MSE, for `batch` latents of `latent` = [1, c, h, w]. */
function lossGraph(config: UNetConfig, latent: readonly number[], batch: number, seqLen: number): Graph {
  const g = buildUNetGraph(config, { batch, height: latent[2], width: latent[3], seqLen });
  const pred = g.tensor(g.outputs.find((o) => o.name === 'out_sample')!.id);
  g.output('loss', weightedMse(pred, g.input('target', 'f32', pred.shape), g.input('weights', 'f32', [batch])));
  return g;
}

/**
 * Text encoder → UNet → weighted MSE in one graph (token ids in), so LoRAs on the text encoder train too.
 * Parameters are under `text_encoder.` and `unet.`; the clip-skip state gets the final LayerNorm as ComfyUI does.
 */
function jointLossGraph(config: UNetConfig, text: ClipTextConfig, latent: readonly number[], batch: number, seqLen: number, clipSkip: number): Graph {
  const g = createGraph('unet_with_text');
  const ids = g.input('input_ids', 'i64', [batch, seqLen]);
  const sample = g.input('sample', 'f32', [batch, config.inChannels, latent[2], latent[3]]);
  const timestep = g.input('timestep', 'f32', [batch]);
  const context = g.within('text_encoder', () => {
    const t = clipTextStates(ids, text, clipSkip - 1 || 1);
    return clipSkip === 1 ? t.last : g.within('text_model', () => layerNorm(t.skipped, 'final_layer_norm', text.layer_norm_eps));
  });
  const pred = g.within('unet', () => buildUNet(g, config, { sample, timestep, encoderHiddenStates: context })).sample;
  g.output('loss', weightedMse(pred, g.input('target', 'f32', pred.shape), g.input('weights', 'f32', [batch])));
  return g;
}

/** One store over component stores, each serving the names under its prefix. */
function prefixedStore(parts: Readonly<Record<string, WeightStore>>): WeightStore {
  const entries = Object.entries(parts);
  return {
    get(name) {
      for (const [prefix, store] of entries) if (name.startsWith(prefix)) return store.get(name.slice(prefix.length));
      return undefined;
    },
    keys: () => entries.flatMap(([prefix, store]) => [...store.keys()].map((k) => prefix + k)),
    fingerprint: () => entries.map(([prefix, store]) => `${prefix}${store.fingerprint()}`).join('|'),
  };
}

/** The checkpoint's text-encoder weights (diffusers text_encoder/ or the single file's cond_stage_model). */
function openTextStore(model: string): { store: WeightStore; reader: SafetensorsReader } {
  const path = statSync(model).isDirectory() ? resolveComponent(model, { subfolder: 'text_encoder', weightNames: ['model.safetensors'], what: 'text encoder' }).weightsPath : model;
  const reader = openSafetensors(path);
  const layout = detectClipTextLayout(reader);
  if (!layout) {
    reader.close();
    throw new Error(`${path}: no CLIP text encoder weights to train a text-encoder LoRA on`);
  }
  return { store: ldmClipTextWeights(reader, layout), reader };
}

/** Picks a dataset item with probability proportional to its repeat count. */
function drawItem(items: readonly DatasetItem[], totalRepeats: number, rng: TrainRng): number {
  let r = rng.below(totalRepeats);
  for (let i = 0; i < items.length; i++) {
    r -= items[i].repeats;
    if (r < 0) return i;
  }
  return items.length - 1;
}

export async function trainLora(opts: LoraTrainingOptions, hooks: LoraTrainingHooks = {}): Promise<LoraTrainingResult> {
  if (existsSync(opts.output) && !opts.overwrite) throw new OutputExistsError(opts.output);
  // Before hours of training, not after: the output folder must take a file.
  assertWritableDir(dirname(opts.output));
  const rank = opts.rank ?? 16;
  const alpha = opts.alpha ?? rank;
  const resolution = opts.resolution ?? 512;
  const clipSkip = opts.clipSkip ?? 1;
  const items = readKohyaDataset(opts.data, opts.regularization);
  const ckpt = loadCheckpoint(opts.model, { tokenizerDir: opts.tokenizerDir, threads: opts.threads, cacheDir: opts.cacheDir });
  const unet = openUNetStore(opts.model);
  const compiled = new Map<string, TrainingModel>();
  const readers: SafetensorsReader[] = [];
  try {
    const prediction = opts.prediction ?? ckpt.prediction;
    const multiple = ckpt.vaeScaleFactor * ckpt.latentMultiple;
    const buckets: Bucket[] = opts.buckets ? makeBuckets(resolution, { step: Math.max(64, multiple) }) : [{ width: resolution, height: resolution }];
    if (buckets.some((b) => b.width % multiple || b.height % multiple)) throw new Error(`resolution ${resolution} is not a multiple of ${multiple}`);

    hooks.onStage?.(`caching latents of ${items.length} images`);
    const vae = await ckpt.useVae();
    const vaeId = `${ckpt.path}:${statSync(ckpt.path).mtimeMs}`;
    const latents: CachedLatent[] = [];
    for (const it of items) {
      const img = await decodeImage(readFileLimited(it.image), 3, it.image);
      const b = nearestBucket(buckets, img.width, img.height);
      latents.push(await cachedLatent(vae, vaeId, ckpt.latentScale, it.image, b.width, b.height, join(opts.runDir, 'latents')));
    }

    const seqLen = 77;
    const batchSize = opts.batchSize ?? 1;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batch size must be a positive integer, got ${batchSize}`);
    const tokenIds = (caption: string): number[] =>
      // One 77-token window: kohya's default max_token_length truncates longer captions the same way.
      weightedTokenChunks(ckpt.tokenizer, caption ? [{ text: caption, weight: 1 }] : [], { padToken: ckpt.padToken })[0].ids;
    const { encoder } = await ckpt.useTextEncoder();
    const textCache = new Map<string, Float32Array>();
    const encodeCaption = async (caption: string): Promise<Float32Array> => {
      const hit = textCache.get(caption);
      if (hit) return hit;
      const out = await encoder.encode([tokenIds(caption)], { skip: clipSkip - 1 });
      const z = out[clipSkip === 1 ? 'last_hidden_state' : 'skip_hidden_state_ln'].data;
      if (textCache.size < 4096) textCache.set(caption, z);
      return z;
    };
    const text = opts.textEncoder ? openTextStore(opts.model) : undefined;
    readers.push(...(text ? [text.reader] : []));
    const frozen = text ? prefixedStore({ 'unet.': unet.store, 'text_encoder.': text.store }) : unet.store;
    const loraCfg: LoraConfig = {
      rank, alpha,
      // The UNet has no `encoder.layers.N` and the text encoder no `attnN.to_q`: the union picks each one's targets.
      targets: text ? new RegExp(`${ATTENTION_PROJECTIONS.source}|${TEXT_ENCODER_TARGETS.source}`) : ATTENTION_PROJECTIONS,
      ...(opts.convRank ? { convTargets: RESNET_CONVS, convRank: opts.convRank, convAlpha: opts.convAlpha ?? opts.convRank } : {}),
    };

    let modules: LoraModule[] = [];
    const modelFor = async (shape: readonly number[]): Promise<TrainingModel> => {
      const key = shape.join('x');
      let m = compiled.get(key);
      if (!m) {
        hooks.onStage?.(`compiling the training graph for ${batchSize} latents of ${key}`);
        const forward = text ? jointLossGraph(unet.config, ckpt.textConfig, shape, batchSize, seqLen, clipSkip) : lossGraph(unet.config, shape, batchSize, seqLen);
        const { graph, modules: mods } = addLoraBranches(forward, loraCfg);
        modules = mods;
        m = await compileTraining(graph, 'loss', mods.flatMap((x) => [x.down, x.up]), frozen, { threads: opts.threads, cacheDir: opts.cacheDir, weightStorage: 'auto' });
        compiled.set(key, m);
      }
      return m;
    };
    // The module list (and so the parameter names) is the same at every size: build it from the first.
    await modelFor(latents[0].shape);
    // kohya batches within a bucket: the other images of a micro-batch come from the first one's bucket.
    const sameBucket = latents.map((l) => items.map((_, j) => j).filter((j) => latents[j].shape.join('x') === l.shape.join('x')));

    const abar = SD_ALPHAS_CUMPROD();
    const totalRepeats = items.reduce((s, it) => s + it.repeats, 0);
    const cfg: TrainLoopConfig = {
      steps: opts.steps,
      gradAccumulation: opts.gradAccumulation,
      optimizer: { name: opts.optimizer ?? 'adamw' },
      lr: opts.lr ?? 1e-4,
      schedule: opts.schedule ?? 'constant_with_warmup',
      warmupSteps: opts.warmupSteps ?? 0,
      clipGradNorm: opts.clipGradNorm,
      emaDecay: opts.emaDecay,
      checkpointEvery: opts.checkpointEvery ?? Math.max(1, Math.min(500, Math.ceil(opts.steps / 4))),
      seed: opts.seed ?? 0,
    };
    hooks.onStage?.(`training ${modules.length} LoRA modules (rank ${rank}, alpha ${alpha}${loraCfg.convTargets ? `, LoCon conv rank ${loraCfg.convRank}, alpha ${loraCfg.convAlpha}` : ''}${text ? ', text encoder too' : ''}; ${batchSize} image(s) per micro-step)`);
    const stem = opts.output.split(/[\\/]/).pop()!.replace(/\.safetensors$/, '');
    const metadata = (steps: number) => ({
      baseModelVersion: ckpt.family === 'sd2' ? 'sd_v2' : 'sd_v1',
      outputName: stem,
      steps, learningRate: cfg.lr, scheduler: cfg.schedule, optimizer: cfg.optimizer.name, seed: cfg.seed,
      resolution: `${resolution},${resolution}`, numTrainImages: items.filter((it) => !it.regularization).length, tagFrequency: tagFrequency(items),
    });
    const res = await runTraining(opts.runDir, cfg, {
      shapes: loraShapes(modules),
      initialParams: () => initLoraParams(modules, createTrainRng((opts.seed ?? 0) ^ 0x5eed)),
      async microStep(params, rng) {
        const first = drawItem(items, totalRepeats, rng);
        const pool = sameBucket[first];
        const picks = [first, ...Array.from({ length: batchSize - 1 }, () => pool[rng.below(pool.length)])];
        const shape = latents[first].shape;
        const per = latents[first].data.length;
        const x0 = new Float32Array(batchSize * per);
        picks.forEach((i, k) => x0.set(latents[i].data, k * per));
        const captions = picks.map((i) => augmentCaption(items[i].caption, rng, opts.captions ?? {}));
        const b = diffusionBatch(x0, batchSize, shape[1], abar, rng, { prediction, noiseOffset: opts.noiseOffset, minSnrGamma: opts.minSnrGamma });
        const model = await modelFor(shape);
        const feeds = { sample: b.noisy, timestep: b.timesteps, target: b.target, weights: b.weights };
        if (text) {
          const ids = new BigInt64Array(batchSize * seqLen);
          captions.forEach((c, k) => tokenIds(c).forEach((t, j) => { ids[k * seqLen + j] = BigInt(t); }));
          const r = await model.step(params, { ...feeds, input_ids: { dtype: 'i64', shape: [batchSize, seqLen], data: ids } });
          return { loss: r.loss, grads: r.grads };
        }
        const contexts = await Promise.all(captions.map(encodeCaption));
        const context = new Float32Array(contexts.reduce((n, c) => n + c.length, 0));
        contexts.forEach((c, k) => context.set(c, k * c.length));
        const r = await model.step(params, { ...feeds, encoder_hidden_states: context });
        return { loss: r.loss, grads: r.grads };
      },
      describe: () => ({
        kind: 'lora', model: opts.model, data: opts.data, regularization: opts.regularization ?? null, rank, alpha, resolution,
        buckets: !!opts.buckets, prediction, minSnrGamma: opts.minSnrGamma ?? null, noiseOffset: opts.noiseOffset ?? null,
        captions: opts.captions ?? {}, clipSkip, images: items.length,
        ...(opts.convRank ? { convRank: loraCfg.convRank, convAlpha: loraCfg.convAlpha } : {}),
        ...(text ? { textEncoder: true } : {}),
        ...(batchSize > 1 ? { batchSize } : {}),
      }),
    }, {
      ...hooks,
      async onCheckpoint(step, dir, params) {
        await hooks.onCheckpoint?.(step, dir, params);
        const path = join(opts.runDir, 'loras', `${stem}-${String(step).padStart(6, '0')}.safetensors`);
        mkdirSync(dirname(path), { recursive: true });
        await saveKohyaLora(path, modules, params, loraCfg, metadata(step));
        await hooks.onLoraSaved?.(step, path);
      },
    });
    await saveKohyaLora(opts.output, modules, res.params, loraCfg, metadata(opts.steps));
    return { output: opts.output, modules: modules.length, losses: res.losses, resumedFrom: res.resumedFrom };
  } finally {
    for (const m of compiled.values()) await m.release();
    unet.reader.close();
    for (const r of readers) r.close();
    await ckpt.release();
  }
}
