// SDRO's joint objective (Ai & Sheng, "Stable Diffusion Reference Only"): the image encoder turns the
// reference into tokens (CLIPVisionModel last_hidden_state: no post-layernorm, no projection), the UNet
// denoises the target's latents conditioned on those tokens (cross-attention) and on the blueprint
// (controlnet_cond_embedding added after conv_in); UNet, blueprint encoder and image encoder are trained
// together with MSE on ε (v when the scheduler says so), no condition dropout. One graph holds both
// models so one backward pass gives every gradient.
import { createGraph, type Graph } from '../graph/graph.ts';
import { memoryWeights } from '../graph/weights.ts';
import { buildUNet } from '../models/unet/unet.ts';
import { conditioningScale } from '../models/unet/conditioningEmbedding.ts';
import { clipVisionHiddenStates } from '../models/clip/visionEncoder.ts';
import type { PredictionType } from '../models/predictionType.ts';
import { alphasCumprod, makeBetas } from '../sampling/diffusers/betas.ts';
import { diffusionBatch, weightedMse } from './diffusionObjective.ts';
import { compileTraining, type TrainingModel } from './trainingGraph.ts';
import type { TrainTask } from './trainLoop.ts';
import type { TrainRng } from './trainRng.ts';
import { IMAGE_ENCODER_PREFIX, UNET_PREFIX, type SdroArchitecture } from './sdroModelFiles.ts';
import { paramShapes } from './initParams.ts';

/** One training example: everything precomputed except the noise. */
export interface SdroExample {
  /** CLIP-processed reference [3, S, S]. */
  pixelValues: Float32Array;
  /** Blueprint [3, H, W] in [0, 1] (white lines on black). */
  blueprint: Float32Array;
  /** Target latents [C, h, w], already multiplied by the VAE scaling factor. */
  latent: Float32Array;
}

export interface SdroShapes {
  batch: number;
  /** Latent height and width. */
  height: number;
  width: number;
}

/** Inputs pixel_values, blueprint, sample, timestep, target, weights; output loss. */
export function sdroTrainingGraph(arch: SdroArchitecture, s: SdroShapes): Graph {
  const { unet, vision } = arch;
  const g = createGraph('sdro_train');
  const b = s.batch;
  const scale = conditioningScale(unet.conditioning!.embeddingOutChannels);
  const pixels = g.input('pixel_values', 'f32', [b, vision.num_channels, vision.image_size, vision.image_size]);
  const blueprint = g.input('blueprint', 'f32', [b, unet.conditioning!.channels, s.height * scale, s.width * scale]);
  const sample = g.input('sample', 'f32', [b, unet.inChannels, s.height, s.width]);
  const timestep = g.input('timestep', 'f32', [b]);
  const states = g.within(IMAGE_ENCODER_PREFIX.slice(0, -1), () => g.within('vision_model', () => clipVisionHiddenStates(pixels, vision)));
  const context = states[states.length - 1];
  const out = g.within(UNET_PREFIX.slice(0, -1), () => buildUNet(g, unet, { sample, timestep, encoderHiddenStates: context, blueprint }));
  g.output('loss', weightedMse(out.sample, g.input('target', 'f32', out.sample.shape), g.input('weights', 'f32', [b])));
  return g;
}

/** The training noise schedule from the model's saved scheduler config (SD's scaled_linear by default). */
export function sdroAlphasCumprod(arch: SdroArchitecture): Float32Array {
  const c = arch.schedulerJson;
  return alphasCumprod(makeBetas({
    beta_schedule: (c.beta_schedule as string) ?? 'scaled_linear', beta_start: (c.beta_start as number) ?? 0.00085,
    beta_end: (c.beta_end as number) ?? 0.012, num_train_timesteps: (c.num_train_timesteps as number) ?? 1000, trained_betas: null,
  } as Parameters<typeof makeBetas>[0]));
}

export function sdroPrediction(arch: SdroArchitecture): PredictionType {
  return arch.schedulerJson.prediction_type === 'v_prediction' ? 'v_prediction' : 'eps';
}

export interface SdroTask extends TrainTask {
  readonly graph: Graph;
  release(): Promise<void>;
}

export interface SdroTaskOptions {
  arch: SdroArchitecture;
  shapes: SdroShapes;
  examples: readonly SdroExample[];
  /** Parameters to start from (fresh init or a model being fine-tuned). */
  initialParams: (graph: Graph) => Record<string, Float32Array>;
  describe: Record<string, unknown>;
  /** min-SNR-γ loss weighting (Hang et al. 2023); none when absent. */
  minSnrGamma?: number;
  threads?: number;
  cacheDir?: string | false;
}

/** A TrainTask drawing `batch` examples per micro-step (uniformly, with replacement). */
export async function sdroTrainingTask(o: SdroTaskOptions): Promise<SdroTask> {
  if (!o.examples.length) throw new Error('SDRO training: no training examples');
  const graph = sdroTrainingGraph(o.arch, o.shapes);
  const trainable = [...graph.params.keys()].sort();
  const model: TrainingModel = await compileTraining(graph, 'loss', trainable, memoryWeights({}), { threads: o.threads, cacheDir: o.cacheDir, weightStorage: 'f32' });
  const abar = sdroAlphasCumprod(o.arch);
  const prediction = sdroPrediction(o.arch);
  const b = o.shapes.batch;
  const first = o.examples[0];
  return {
    graph,
    shapes: paramShapes(graph),
    initialParams: () => o.initialParams(graph),
    async microStep(params, rng: TrainRng) {
      const pick = Array.from({ length: b }, () => o.examples[rng.below(o.examples.length)]);
      const cat = (key: keyof SdroExample) => {
        const n = first[key].length;
        const out = new Float32Array(b * n);
        pick.forEach((e, i) => out.set(e[key], i * n));
        return out;
      };
      const latents = cat('latent');
      const d = diffusionBatch(latents, b, o.arch.unet.inChannels, abar, rng, { prediction, minSnrGamma: o.minSnrGamma });
      const r = await model.step(params, {
        pixel_values: cat('pixelValues'), blueprint: cat('blueprint'), sample: d.noisy, timestep: d.timesteps, target: d.target, weights: d.weights,
      });
      return { loss: r.loss, grads: r.grads };
    },
    describe: () => ({ kind: 'sdro', ...o.describe, batch: b, latent: [o.shapes.height, o.shapes.width], prediction, minSnrGamma: o.minSnrGamma ?? null, examples: o.examples.length }),
    release: () => model.release(),
  };
}
