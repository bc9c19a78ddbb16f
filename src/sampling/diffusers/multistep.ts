// What diffusers' multistep solvers (DPMSolverMultistepScheduler, UniPCMultistepScheduler; v0.21) share
// before their update formulas: config keys, α/σ/λ lookup at integer train steps, the model-output
// conversion to x0 (data prediction) or ε (noise prediction), and set_timesteps.
//   data:   epsilon → (x − σ ε)/α;   v → α x − σ v;   sample → as is
//   noise:  epsilon → as is;         v → α v + σ x;   sample → (x − α x0)/σ
// All arithmetic rounds to float32 after every operation, as torch does.
import { z } from 'zod';
import { karrasTimesteps, multistepTimesteps, trainSigmas, uniqueInOrder, type TimestepSpacing, type VpCoefficients } from './betas.ts';

const f32 = Math.fround;

/** Config keys both multistep solvers take, with diffusers' defaults. */
export const multistepConfigShape = {
  thresholding: z.literal(false, { error: 'thresholding is not supported (it is for pixel-space models)' }).default(false),
  lower_order_final: z.boolean().default(true),
  use_karras_sigmas: z.boolean().nullable().default(false).transform((v) => v === true),
  final_sigmas_type: z.enum(['sigma_min', 'zero']).default('sigma_min'),
};

/** The final-step target with final_sigmas_type "zero": σ = 0, α = 1. */
export const ZERO_SIGMA = -1;

export interface StepCoefficients {
  alpha: number;
  sigma: number;
  lambda: number;
}

/** α_t, σ_t, λ_t at an integer train step t (or at ZERO_SIGMA); anything else is an error naming `className`. */
export function coefficientLookup(className: string, vp: VpCoefficients): (t: number) => StepCoefficients {
  const T = vp.alphaT.length;
  return (t) => {
    if (t === ZERO_SIGMA) return { alpha: 1, sigma: 0, lambda: Infinity };
    if (!Number.isInteger(t) || t < 0 || t >= T) throw new Error(`${className}: timestep ${t} is not an integer train step in [0, ${T})`);
    return { alpha: vp.alphaT[t], sigma: vp.sigmaT[t], lambda: vp.lambdaT[t] };
  };
}

export type PredictionTypeName = 'epsilon' | 'v_prediction' | 'sample';

/** convert_model_output: the model output as x0 (`toData`) or as ε, at α, σ of the current step. */
export function convertModelOutput(out: Float32Array, x: Float32Array, c: { alpha: number; sigma: number }, type: PredictionTypeName, toData: boolean): Float32Array {
  const { alpha, sigma } = c;
  const res = new Float32Array(out.length);
  if (toData) {
    if (type === 'epsilon') for (let i = 0; i < out.length; i++) res[i] = f32(f32(x[i] - f32(sigma * out[i])) / alpha);
    else if (type === 'v_prediction') for (let i = 0; i < out.length; i++) res[i] = f32(f32(alpha * x[i]) - f32(sigma * out[i]));
    else res.set(out);
  } else {
    if (type === 'epsilon') res.set(out);
    else if (type === 'v_prediction') for (let i = 0; i < out.length; i++) res[i] = f32(f32(alpha * out[i]) + f32(sigma * x[i]));
    else for (let i = 0; i < out.length; i++) res[i] = f32(f32(x[i] - f32(alpha * out[i])) / sigma);
  }
  return res;
}

export interface MultistepScheduleConfig {
  num_train_timesteps: number;
  timestep_spacing: TimestepSpacing;
  steps_offset: number;
  use_karras_sigmas: boolean;
}

/**
 * set_timesteps for `n` steps: spaced integer timesteps below `last` (DPM's lambda_min_clipped lowers it), or
 * with use_karras_sigmas the steps nearest the Karras sigmas; repeats dropped. `sigmas` are the train sigmas,
 * or the Karras ones.
 */
export function multistepSchedule(className: string, config: MultistepScheduleConfig, alphasCumprod: Float32Array, n: number, last = config.num_train_timesteps): { timesteps: number[]; sigmas: Float32Array | Float64Array } {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${className}: numInferenceSteps must be a positive integer, got ${n}`);
  const train = trainSigmas(alphasCumprod);
  if (config.use_karras_sigmas) {
    const k = karrasTimesteps(train, n);
    return { timesteps: uniqueInOrder(k.timesteps), sigmas: k.sigmas };
  }
  const ts = multistepTimesteps(config.timestep_spacing, config.num_train_timesteps, n, config.steps_offset, last);
  return { timesteps: uniqueInOrder(ts), sigmas: train };
}
