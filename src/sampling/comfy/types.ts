// Shared types of the ComfyUI-style samplers. A sampler works in k-diffusion space: x = x0 + σ·ε,
// and the model is a denoiser D(x, σ) that returns the predicted clean latent.
import type { ModelSamplingDiscrete } from './modelSamplingDiscrete.ts';

/** Returns the denoised latent for x at sigma (pipelines wrap UNet + CFG + ModelSampling into it). */
export type Denoiser = (x: Float32Array, sigma: number) => Promise<Float32Array> | Float32Array;

/** ComfyUI's sampler callback: step index, denoised, the sampler's x (see each sampler), total steps. */
export type StepCallback = (i: number, denoised: Float32Array, x: Float32Array, totalSteps: number) => void;

/** Returns one standard-normal draw of the latent's size for the step sigma → sigmaNext. */
export type NoiseSampler = (sigma: number, sigmaNext: number) => Float32Array;

export interface SamplerContext {
  model: Denoiser;
  /** float32 schedule, descending, usually ending with 0. UniPC overwrites the last entry (0 → 0.001) like ComfyUI. */
  sigmas: Float32Array;
  modelSampling: ModelSamplingDiscrete;
  /** Called after each step's first model evaluation with (i, denoised, x). */
  callback?: (i: number, denoised: Float32Array, x: Float32Array) => void;
  /** Creates the sampler's noise source; ComfyUI uses a fresh torch CPU generator seeded with the seed. */
  createNoiseSampler: () => NoiseSampler;
  signal?: AbortSignal;
}

/** A sampler: the start x (already noise-scaled) and the context in, the final latent out. */
export type SamplerFunction = (x: Float32Array, ctx: SamplerContext) => Promise<Float32Array>;

/** Evaluates the model and checks its output size, so a bad denoiser fails clearly. */
export async function callModel(model: Denoiser, x: Float32Array, sigma: number): Promise<Float32Array> {
  const out = await model(x, sigma);
  if (!(out instanceof Float32Array) || out.length !== x.length) {
    throw new Error(`denoiser must return a Float32Array of ${x.length} values (got ${out instanceof Float32Array ? out.length : typeof out})`);
  }
  return out;
}
