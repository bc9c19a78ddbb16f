// The denoising objective as kohya's sd-scripts and diffusers' train_text_to_image compute it:
//   noise ~ N(0, I), plus noise_offset · N(0, 1) per (sample, channel) when an offset is given;
//   t ~ U{0 … T−1}; noisy = √ᾱ_t · x0 + √(1−ᾱ_t) · noise            (DDPMScheduler.add_noise)
//   target: ε → noise;  v → √ᾱ_t · noise − √(1−ᾱ_t) · x0            (get_velocity)
//   min-SNR-γ weight (Hang et al. 2023; kohya apply_snr_weight): snr = ᾱ/(1−ᾱ);
//     ε: min(snr, γ)/snr;   v: min(snr, γ)/(snr + 1)
//   high-noise weight (inkflow's, ε only): × clamp(1/snr, 1, cap). An ε error is √snr times the x0 error, so
//     at high noise — where the picture's layout (a figure's pose) is still open and only the prompt can
//     decide it — a plain ε loss barely rewards getting x0 right; this weighs those steps like an x0 loss,
//     up to `cap`, and leaves snr ≥ 1 untouched.
//   loss = mean_b( w_b · mean_chw (pred − target)² )
import type { Tensor } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import type { PredictionType } from '../models/predictionType.ts';
import type { TrainRng } from './trainRng.ts';

export interface ObjectiveOptions {
  prediction: PredictionType;
  noiseOffset?: number;
  minSnrGamma?: number;
  /** ε only: weigh high-noise steps by clamp(1/snr, 1, cap) on top of min-SNR (see the header). */
  highNoiseWeightCap?: number;
}

export interface DiffusionBatch {
  noisy: Float32Array;
  target: Float32Array;
  timesteps: Float32Array;
  /** Per-sample loss weights (1 without min-SNR). */
  weights: Float32Array;
}

/** Draws noise and timesteps for clean latents `x0` [B, …] (B = `batch`) and builds model input and target. */
export function diffusionBatch(x0: Float32Array, batch: number, channels: number, alphasCumprod: Float32Array, rng: TrainRng, opts: ObjectiveOptions): DiffusionBatch {
  const per = x0.length / batch;
  const plane = per / channels;
  const noise = rng.normals(x0.length);
  if (opts.noiseOffset) {
    const offsets = rng.normals(batch * channels);
    for (let i = 0; i < noise.length; i++) noise[i] += opts.noiseOffset * offsets[Math.floor(i / plane)];
  }
  const timesteps = new Float32Array(batch);
  const weights = new Float32Array(batch);
  const noisy = new Float32Array(x0.length);
  const target = new Float32Array(x0.length);
  for (let b = 0; b < batch; b++) {
    const t = rng.below(alphasCumprod.length);
    timesteps[b] = t;
    const abar = alphasCumprod[t];
    const sa = Math.sqrt(abar);
    const sb = Math.sqrt(1 - abar);
    for (let i = b * per; i < (b + 1) * per; i++) {
      noisy[i] = sa * x0[i] + sb * noise[i];
      target[i] = opts.prediction === 'v_prediction' ? sa * noise[i] - sb * x0[i] : noise[i];
    }
    weights[b] = minSnrWeight(abar, opts);
  }
  return { noisy, target, timesteps, weights };
}

export function minSnrWeight(alphaBar: number, opts: ObjectiveOptions): number {
  const snr = alphaBar / (1 - alphaBar);
  const highNoise = opts.highNoiseWeightCap && opts.prediction === 'eps' ? Math.min(Math.max(1 / snr, 1), opts.highNoiseWeightCap) : 1;
  if (!opts.minSnrGamma) return highNoise;
  const clipped = Math.min(snr, opts.minSnrGamma);
  return opts.prediction === 'v_prediction' ? clipped / (snr + 1) : (clipped / snr) * highNoise;
}

/** The weighted MSE of `pred` against `target` ([B, …]) with per-sample `weights` [B], as one scalar. */
export function weightedMse(pred: Tensor, target: Tensor, weights: Tensor): Tensor {
  const d = op.sub(pred, target);
  const axes = pred.shape.slice(1).map((_, i) => i + 1);
  const perSample = op.reduceMean(op.mul(d, d), axes, false);
  return op.reduceMean(op.mul(perSample, weights), [0], false);
}
