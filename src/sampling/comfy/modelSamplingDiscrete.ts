// ComfyUI's ModelSamplingDiscrete (comfy/model_sampling.py) for SD1.x/SD2.x/SDXL-style models:
// the 1000-entry sigma table, sigma ↔ timestep conversion and the EPS / V_PREDICTION formulas.
//
//   betas  = linspace(√linear_start, √linear_end, T, float64)²   (ComfyUI's "linear" = diffusers' scaled_linear)
//   ᾱ      = cumprod(1 − betas)                                   (float64)
//   σ_t    = √((1 − ᾱ_t) / ᾱ_t)            stored as float32; log_sigmas = float32(log(float64 σ))
//   timestep(σ) = argmin_i |log σ − log_sigmas[i]|                → always an INTEGER index
//   sigma(t)    = exp((1 − w)·log_sigmas[⌊t⌋] + w·log_sigmas[⌈t⌉]) → log-linear interpolation
//   EPS:  input = x/√(σ² + 1),  denoised = x − out·σ
//   V:    input = x/√(σ² + 1),  denoised = x/(σ² + 1) − out·σ/√(σ² + 1)
import type { PredictionType } from '../../models/predictionType.ts';
import { expF32, f32, logF32, sqrtF32 } from './float32.ts';

export interface ModelSamplingConfig {
  predictionType?: PredictionType;
  linearStart?: number;
  linearEnd?: number;
  timesteps?: number;
}

export interface ModelSamplingDiscrete {
  readonly predictionType: PredictionType;
  /** float32 sigma table, ascending (index = training timestep). */
  readonly sigmas: Float32Array;
  readonly logSigmas: Float32Array;
  readonly sigmaMin: number;
  readonly sigmaMax: number;
  /** Nearest integer timestep for a sigma (what the UNet receives, as a float). */
  timestep(sigma: number): number;
  /** Sigma at a (possibly fractional) timestep, log-interpolated, float32. */
  sigma(t: number): number;
  /** The UNet input for a k-diffusion x at sigma. */
  calculateInput(sigma: number, x: Float32Array): Float32Array;
  /** The denoised latent from the UNet output. */
  calculateDenoised(sigma: number, modelOutput: Float32Array, x: Float32Array): Float32Array;
  /** Start x: noise·√(1 + σ²) + latent when max_denoise, else noise·σ + latent. */
  noiseScaling(sigma: number, noise: Float32Array, latent: Float32Array | null, maxDenoise: boolean): Float32Array;
}

/** SD1.x defaults (sampling_settings {}): linear 0.00085 → 0.012, 1000 steps, eps. */
export const SD15_MODEL_SAMPLING: Required<ModelSamplingConfig> = {
  predictionType: 'eps',
  linearStart: 0.00085,
  linearEnd: 0.012,
  timesteps: 1000,
};

export function createModelSamplingDiscrete(config: ModelSamplingConfig = {}): ModelSamplingDiscrete {
  const { predictionType, linearStart, linearEnd, timesteps } = { ...SD15_MODEL_SAMPLING, ...config };
  if (predictionType !== 'eps' && predictionType !== 'v_prediction') {
    throw new Error(`unknown prediction type "${predictionType}" (expected eps or v_prediction)`);
  }
  if (!Number.isInteger(timesteps) || timesteps < 2) throw new Error(`timesteps must be an integer ≥ 2 (got ${timesteps})`);
  if (!(linearStart > 0 && linearEnd > linearStart && linearEnd < 1)) {
    throw new Error(`invalid beta range ${linearStart}..${linearEnd}`);
  }

  // torch.linspace in float64, then squared.
  const a = Math.sqrt(linearStart);
  const b = Math.sqrt(linearEnd);
  const step = (b - a) / (timesteps - 1);
  const half = Math.floor(timesteps / 2);
  const sigmas = new Float32Array(timesteps);
  const logSigmas = new Float32Array(timesteps);
  let cumprod = 1;
  for (let i = 0; i < timesteps; i++) {
    const root = i < half ? a + step * i : b - step * (timesteps - 1 - i);
    cumprod *= 1 - root * root;
    const sigma = Math.sqrt((1 - cumprod) / cumprod);
    sigmas[i] = sigma;
    logSigmas[i] = Math.log(sigma);
  }
  const sigmaMin = sigmas[0];
  const sigmaMax = sigmas[timesteps - 1];

  function timestep(sigma: number): number {
    const ls = logF32(sigma);
    let best = 0;
    let bestDist = Infinity;
    for (let i = 0; i < logSigmas.length; i++) {
      const d = Math.abs(f32(ls - logSigmas[i]));
      if (d < bestDist) { bestDist = d; best = i; } // first minimum wins, like argmin
    }
    return best;
  }

  function sigma(t: number): number {
    const tc = Math.min(Math.max(f32(t), 0), timesteps - 1);
    const lo = Math.floor(tc);
    const hi = Math.ceil(tc);
    const w = f32(tc - Math.trunc(tc));
    const logSigma = f32(f32(f32(1 - w) * logSigmas[lo]) + f32(w * logSigmas[hi]));
    return expF32(logSigma);
  }

  function calculateInput(s: number, x: Float32Array): Float32Array {
    const denom = sqrtF32(f32(f32(s * s) + 1));
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = x[i] / denom;
    return out;
  }

  function calculateDenoised(s: number, modelOutput: Float32Array, x: Float32Array): Float32Array {
    if (modelOutput.length !== x.length) {
      throw new Error(`model output has ${modelOutput.length} values, expected ${x.length}`);
    }
    const out = new Float32Array(x.length);
    if (predictionType === 'eps') {
      for (let i = 0; i < x.length; i++) out[i] = x[i] - f32(modelOutput[i] * s);
    } else {
      const s2p1 = f32(f32(s * s) + 1);
      const root = sqrtF32(s2p1);
      for (let i = 0; i < x.length; i++) out[i] = f32(x[i] / s2p1) - f32(f32(modelOutput[i] * s) / root);
    }
    return out;
  }

  function noiseScaling(s: number, noise: Float32Array, latent: Float32Array | null, maxDenoise: boolean): Float32Array {
    const scale = maxDenoise ? sqrtF32(f32(1 + f32(s * s))) : f32(s);
    const out = new Float32Array(noise.length);
    for (let i = 0; i < noise.length; i++) out[i] = f32(noise[i] * scale) + (latent ? latent[i] : 0);
    return out;
  }

  return {
    predictionType, sigmas, logSigmas, sigmaMin, sigmaMax,
    timestep, sigma, calculateInput, calculateDenoised, noiseScaling,
  };
}
