// ComfyUI's KSampler pipeline around a sampler function (comfy/sample.py, comfy/samplers.py):
//   noise   = torch.manual_seed(seed); torch.randn(latent shape)                 (prepare_noise, CPU)
//   sigmas  = scheduler(steps) — or steps + 1 with the penultimate sigma removed for dpm_2 / uni_pc —
//             and for denoise < 1 the last steps + 1 sigmas of the schedule for ⌊steps/denoise⌋ steps
//   latent  = latent·0.18215 if it has any non-zero value                        (process_latent_in)
//   x₀      = noise·√(1 + σ₀²) + latent if σ₀ ≈ σ_max (rel 1e-5) or σ₀ > σ_max, else noise·σ₀ + latent
//   result  = sampler(x₀, sigmas) / 0.18215                                       (process_latent_out)
// Ancestral samplers draw from a fresh generator seeded with the same seed, so on CPU their first
// draw repeats the initial noise (ComfyUI passes extra_args["seed"] to default_noise_sampler).
import { createTorchGenerator } from '../torchRandom.ts';
import { sampleDdim } from './ddim.ts';
import { sampleDpm2 } from './dpm2.ts';
import { sampleDpmpp2m } from './dpmpp2m.ts';
import { sampleDpmpp2mSde } from './dpmpp2mSde.ts';
import { sampleEuler } from './euler.ts';
import { sampleEulerAncestral } from './eulerAncestral.ts';
import { f32 } from './float32.ts';
import { sampleHeun } from './heun.ts';
import { sampleLcm } from './lcm.ts';
import { createModelSamplingDiscrete, type ModelSamplingDiscrete } from './modelSamplingDiscrete.ts';
import { calculateSigmas, COMFY_SCHEDULERS } from './schedulers.ts';
import type { Denoiser, NoiseSampler, SamplerFunction, StepCallback } from './types.ts';
import { sampleUniPc, sampleUniPcBh2 } from './uniPc.ts';

export { COMFY_SCHEDULERS };

const SAMPLERS = {
  euler: sampleEuler,
  euler_ancestral: sampleEulerAncestral,
  heun: sampleHeun,
  dpm_2: sampleDpm2,
  dpmpp_2m: sampleDpmpp2m,
  dpmpp_2m_sde: sampleDpmpp2mSde,
  lcm: sampleLcm,
  ddim: sampleDdim,
  uni_pc: sampleUniPc,
  uni_pc_bh2: sampleUniPcBh2,
} satisfies Record<string, SamplerFunction>;

export type ComfySamplerName = keyof typeof SAMPLERS;
export const COMFY_SAMPLERS = Object.keys(SAMPLERS) as ComfySamplerName[];

/** Samplers for which KSampler builds steps + 1 sigmas and drops the second-to-last one. */
const DISCARD_PENULTIMATE_SIGMA = new Set<string>(['dpm_2', 'dpm_2_ancestral', 'uni_pc', 'uni_pc_bh2']);

/** SD1.x/SD2.x latent scale (process_latent_in multiplies, process_latent_out divides). */
export const SD15_LATENT_SCALE = 0.18215;

export function getComfySampler(name: string): SamplerFunction {
  if (!Object.hasOwn(SAMPLERS, name)) {
    throw new Error(`unknown sampler "${name}" (expected one of ${COMFY_SAMPLERS.join(', ')})`);
  }
  return SAMPLERS[name as ComfySamplerName];
}

/** KSampler.calculate_sigmas + set_steps: the sigmas handed to the sampler. Empty when denoise ≤ 0. */
export function ksamplerSigmas(ms: ModelSamplingDiscrete, sampler: string, scheduler: string, steps: number, denoise = 1): Float32Array {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a positive integer (got ${steps})`);
  if (!(denoise >= 0 && denoise <= 1)) throw new Error(`denoise must be in [0, 1] (got ${denoise})`);
  const forSteps = (n: number): Float32Array => {
    const discard = DISCARD_PENULTIMATE_SIGMA.has(sampler);
    const s = calculateSigmas(ms, scheduler, discard ? n + 1 : n);
    if (!discard) return s;
    const out = new Float32Array(s.length - 1);
    out.set(s.subarray(0, s.length - 2));
    out[out.length - 1] = s[s.length - 1];
    return out;
  };
  if (denoise > 0.9999) return forSteps(steps);
  if (denoise <= 0) return new Float32Array(0);
  const full = forSteps(Math.trunc(steps / denoise));
  return full.slice(Math.max(0, full.length - (steps + 1)));
}

/** comfy.sample.prepare_noise: torch.manual_seed(seed); torch.randn(shape) on CPU. */
export function prepareNoise(shape: readonly number[], seed: number | bigint): Float32Array {
  return createTorchGenerator(seed).randn(shape);
}

/** Sampler.max_denoise: does the schedule start at (or above) the model's sigma_max? */
export function isMaxDenoise(ms: ModelSamplingDiscrete, sigmas: Float32Array): boolean {
  const maxSigma = ms.sigmaMax;
  const sigma = sigmas[0];
  return Math.abs(maxSigma - sigma) <= 1e-5 * Math.max(Math.abs(maxSigma), Math.abs(sigma)) || sigma > maxSigma;
}

export interface ComfySampleOptions {
  sampler: string;
  scheduler: string;
  steps: number;
  /** 1 = txt2img; < 1 keeps the last steps + 1 sigmas of a longer schedule (img2img). Default 1. */
  denoise?: number;
  seed: number | bigint;
  model: Denoiser;
  /** Latent shape, e.g. [1, 4, H/8, W/8]. */
  latentShape: readonly number[];
  /** Input LATENT in node space (unscaled, as VAEEncode outputs it); zeros when absent. */
  latentImage?: Float32Array | null;
  /** (i, denoised, x, totalSteps) after each step's first model call; x is the sampler's own x
   *  (k-diffusion x before the step; VP-space x after the step for uni_pc). */
  callback?: StepCallback;
  signal?: AbortSignal;
  /** Defaults to SD1.x eps ModelSamplingDiscrete. */
  modelSampling?: ModelSamplingDiscrete;
  /** Latent scale factor (SD1.x 0.18215, SDXL 0.13025). */
  latentScaleFactor?: number;
  /** Replaces the seeded noise (e.g. zeros for ComfyUI's disable_noise). */
  noise?: Float32Array;
  /** KSamplerAdvanced: run only steps [startStep, lastStep] of the schedule. */
  startStep?: number;
  lastStep?: number;
  /** With lastStep before the end: set the last sigma to 0 (return_with_leftover_noise disabled). */
  forceFullDenoise?: boolean;
}

export interface ComfySampleResult {
  /** Node-space output LATENT (sampler output / scale factor), what KSampler returns. */
  latent: Float32Array;
  /** Raw sampler output in model space. */
  samples: Float32Array;
  /** The sigmas handed to the sampler (copied before uni_pc edits its last entry). */
  sigmas: Float32Array;
  noise: Float32Array;
  /** The sampler's start x (noise-scaled). */
  xInit: Float32Array;
  maxDenoise: boolean;
}

let defaultModelSampling: ModelSamplingDiscrete | null = null;

/** Runs ComfyUI's KSampler: seeded noise, schedule, latent scaling, the sampler, output scaling. */
export async function comfySample(options: ComfySampleOptions): Promise<ComfySampleResult> {
  const { sampler, scheduler, steps, seed, model, latentShape, callback, signal } = options;
  const denoise = options.denoise ?? 1;
  const scale = f32(options.latentScaleFactor ?? SD15_LATENT_SCALE);
  const ms = options.modelSampling ?? (defaultModelSampling ??= createModelSamplingDiscrete());
  const samplerFn = getComfySampler(sampler);
  if (typeof model !== 'function') throw new Error('model must be a denoiser function (x, sigma) => denoised');

  const size = latentShape.reduce((a, b) => a * b, 1);
  if (latentShape.length === 0 || !latentShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`invalid latent shape [${latentShape.join(', ')}]`);
  }
  const latentImage = options.latentImage ?? new Float32Array(size);
  if (latentImage.length !== size) {
    throw new Error(`latentImage has ${latentImage.length} values, latent shape [${latentShape.join(', ')}] needs ${size}`);
  }
  const noise = options.noise ?? prepareNoise(latentShape, seed);
  if (noise.length !== size) throw new Error(`noise has ${noise.length} values, expected ${size}`);

  let sigmas = ksamplerSigmas(ms, sampler, scheduler, steps, denoise);
  // KSamplerAdvanced's window (comfy/samplers.py KSampler.sample): cut after last_step, then before start_step.
  if (options.lastStep !== undefined && options.lastStep < sigmas.length - 1) {
    sigmas = sigmas.slice(0, options.lastStep + 1);
    if (options.forceFullDenoise) sigmas[sigmas.length - 1] = 0;
  }
  if (options.startStep !== undefined) {
    if (options.startStep < sigmas.length - 1) sigmas = sigmas.slice(options.startStep);
    else sigmas = new Float32Array(0);
  }
  if (sigmas.length === 0) {
    // CFGGuider.sample returns the input latent untouched when there is nothing to sample.
    return { latent: latentImage.slice(), samples: latentImage.slice(), sigmas, noise, xInit: latentImage.slice(), maxDenoise: false };
  }
  signal?.throwIfAborted();

  const latentIn = latentImage.some((v) => v !== 0) ? latentImage.map((v) => v * scale) : latentImage;
  const maxDenoise = isMaxDenoise(ms, sigmas);
  const xInit = ms.noiseScaling(sigmas[0], noise, latentIn, maxDenoise);
  const totalSteps = sigmas.length - 1;
  const samplerSigmas = sigmas.slice();

  const samples = await samplerFn(xInit, {
    model,
    sigmas: samplerSigmas,
    modelSampling: ms,
    callback: callback ? (i, denoised, x) => callback(i, denoised, x, totalSteps) : undefined,
    createNoiseSampler: (): NoiseSampler => {
      const generator = createTorchGenerator(seed);
      return () => generator.randn(latentShape);
    },
    signal,
  });
  const latent = samples.map((v) => v / scale);
  return { latent, samples, sigmas, noise, xInit, maxDenoise };
}
