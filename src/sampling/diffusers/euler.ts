// Euler sampler (Karras et al. 2022 Alg. 2 without churn), diffusers v0.21.0 EulerDiscreteScheduler with its
// defaults s_churn = 0, interpolation_type "linear", use_karras_sigmas false — the SDXL base scheduler.
//   σ_t = √((1−ᾱ_t)/ᾱ_t), interpolated linearly at the (float) timesteps, then 0 appended
//   model input   x / √(σ² + 1)
//   x0            x − σ·ε (epsilon)  or  −σ/√(σ²+1)·v + x/(σ²+1) (v_prediction)
//   x_next        x + (x − x0)/σ · (σ_next − σ)
// init_noise_sigma = max σ (linspace/trailing) or √(max σ² + 1) (leading). diffusers draws one unused randn per
// step from the pipeline's generator (the churn noise, multiplied by s_noise·0); callers that share a torch
// generator must draw it too. All tensor arithmetic is float32 per operation, as torch does.
import { z } from 'zod';
import { alphasCumprod, makeBetas, noiseScheduleConfigShape, singleStepTimesteps, trainSigmas } from './betas.ts';
import { parseSchedulerConfig } from './configJson.ts';
import { assertSameLength, type DiffusersScheduler, type StepResult } from './types.ts';

const f32 = Math.fround;

export const EULER_CLASS_NAME = 'EulerDiscreteScheduler';

export const eulerConfigSchema = z.object({
  ...noiseScheduleConfigShape,
  prediction_type: z.enum(['epsilon', 'v_prediction'], { error: 'prediction_type must be "epsilon" or "v_prediction"' }).default('epsilon'),
  interpolation_type: z.enum(['linear'], { error: 'only interpolation_type "linear" is implemented' }).default('linear'),
  use_karras_sigmas: z.literal(false, { error: 'use_karras_sigmas is not implemented for Euler' }).nullish(),
});

export type EulerConfig = z.output<typeof eulerConfigSchema>;

export interface EulerScheduler extends DiffusersScheduler {
  readonly config: Readonly<EulerConfig>;
  readonly sigmas: Float32Array;
  /** σ at timestep t of the current schedule (what add_noise multiplies the noise by). */
  sigmaAt(t: number): number;
}

export function createEuler(rawConfig: Record<string, unknown> = {}): EulerScheduler {
  const config = parseSchedulerConfig(eulerConfigSchema, EULER_CLASS_NAME, rawConfig);
  const ac = alphasCumprod(makeBetas(config));
  const train = trainSigmas(ac);
  let sigmas = new Float32Array(train.length + 1);
  sigmas.set(train.slice().reverse());
  let timesteps: number[] = [];
  let stepIndex: number | null = null;

  const indexOf = (t: number): number => {
    const hits: number[] = [];
    timesteps.forEach((v, i) => v === t && hits.push(i));
    if (hits.length === 0) throw new Error(`${EULER_CLASS_NAME}: timestep ${t} is not in the schedule [${timesteps.join(', ')}]`);
    return hits.length > 1 ? hits[1] : hits[0];
  };
  const ready = (what: string) => {
    if (timesteps.length === 0) throw new Error(`${EULER_CLASS_NAME}: call setTimesteps before ${what}`);
  };

  return {
    className: EULER_CLASS_NAME,
    config,
    alphasCumprod: ac,
    get timesteps() {
      return timesteps;
    },
    get sigmas() {
      return sigmas;
    },
    get initNoiseSigma() {
      const m = sigmas.reduce((a, s) => (s > a ? s : a), -Infinity);
      return config.timestep_spacing === 'leading' ? f32(Math.sqrt(f32(f32(m * m) + 1))) : m;
    },
    setTimesteps(n: number) {
      if (!Number.isInteger(n) || n < 1) throw new Error(`${EULER_CLASS_NAME}: numInferenceSteps must be a positive integer, got ${n}`);
      timesteps = singleStepTimesteps(config.timestep_spacing, config.num_train_timesteps, n, config.steps_offset, false).map(f32);
      sigmas = new Float32Array(timesteps.length + 1);
      timesteps.forEach((t, i) => (sigmas[i] = interp(t, train)));
      stepIndex = null;
    },
    sigmaAt(t: number) {
      ready('sigmaAt');
      return sigmas[indexOf(t)];
    },
    scaleModelInput(sample: Float32Array, t: number) {
      ready('scaleModelInput');
      if (stepIndex === null) stepIndex = indexOf(t);
      const s = sigmas[stepIndex];
      const d = f32(Math.sqrt(f32(f32(s * s) + 1)));
      return sample.map((v) => f32(v / d));
    },
    step(modelOutput: Float32Array, t: number, sample: Float32Array): StepResult {
      ready('step');
      assertSameLength(`${EULER_CLASS_NAME}.step`, modelOutput, sample);
      if (stepIndex === null) stepIndex = indexOf(t);
      if (stepIndex >= timesteps.length) throw new Error(`${EULER_CLASS_NAME}: step called more times than there are timesteps`);
      const sigma = sigmas[stepIndex];
      const dt = f32(sigmas[stepIndex + 1] - sigma);
      const n = sample.length;
      const x0 = new Float32Array(n);
      if (config.prediction_type === 'epsilon') {
        for (let i = 0; i < n; i++) x0[i] = f32(sample[i] - f32(sigma * modelOutput[i]));
      } else {
        const s2p1 = f32(f32(sigma * sigma) + 1);
        const c = f32(-sigma / f32(Math.sqrt(s2p1)));
        for (let i = 0; i < n; i++) x0[i] = f32(f32(modelOutput[i] * c) + f32(sample[i] / s2p1));
      }
      const prevSample = new Float32Array(n);
      for (let i = 0; i < n; i++) prevSample[i] = f32(sample[i] + f32(f32(f32(sample[i] - x0[i]) / sigma) * dt));
      stepIndex++;
      return { prevSample, predOriginalSample: x0 };
    },
  };
}

/** np.interp(t, arange(len), values) in float64, stored float32. */
function interp(t: number, values: Float32Array): number {
  if (t <= 0) return values[0];
  const last = values.length - 1;
  if (t >= last) return values[last];
  const j = Math.floor(t);
  if (j === t) return values[j];
  return f32((values[j + 1] - values[j]) * (t - j) + values[j]);
}
