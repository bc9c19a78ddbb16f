// Euler ancestral sampler (Karras et al. 2022 Alg. 2 with ancestral noise, k-diffusion's sample_euler_ancestral),
// diffusers v0.21.0 EulerAncestralDiscreteScheduler.
//
// Works in σ space: x = x0 + σ ε, σ_t = √((1−ᾱ_t)/ᾱ_t), σ interpolated linearly at (float) timesteps, then 0 appended.
//   model input   x / √(σ² + 1)
//   x0            x − σ·ε                         (epsilon)   or  −σ/√(σ²+1)·v + x/(σ²+1)   (v_prediction)
//   σ_up   = √(σ_to² (σ_from² − σ_to²)/σ_from²),  σ_down = √(σ_to² − σ_up²)
//   x_next = x + (x − x0)/σ · (σ_down − σ) + noise · σ_up       (noise ~ N(0,1), supplied by the caller)
// init_noise_sigma = max σ (linspace/trailing) or √(max σ² + 1) (leading).
// The step index is found from the first timestep passed (the second match if a timestep repeats) and then
// advances by one per step, as in diffusers. All tensor arithmetic is float32 per operation, as torch does.
import { z } from 'zod';
import { alphasCumprod, makeBetas, noiseScheduleConfigShape, singleStepTimesteps, trainSigmas } from './betas.ts';
import { parseSchedulerConfig } from './configJson.ts';
import { assertSameLength, type DiffusersScheduler, type StepOptions, type StepResult } from './types.ts';

const f32 = Math.fround;

export const EULER_ANCESTRAL_CLASS_NAME = 'EulerAncestralDiscreteScheduler';
const NAME = EULER_ANCESTRAL_CLASS_NAME;

export const eulerAncestralConfigSchema = z.object({
  ...noiseScheduleConfigShape,
  prediction_type: z.enum(['epsilon', 'v_prediction'], {
    error: 'prediction_type must be "epsilon" or "v_prediction" (diffusers v0.21 does not implement "sample" here)',
  }).default('epsilon'),
});

export type EulerAncestralConfig = z.output<typeof eulerAncestralConfigSchema>;

export interface EulerAncestralScheduler extends DiffusersScheduler {
  readonly config: Readonly<EulerAncestralConfig>;
  readonly sigmas: Float32Array;
}

/** Builds an Euler ancestral scheduler from a diffusers config (unknown keys ignored). */
export function createEulerAncestral(rawConfig: Record<string, unknown> = {}): EulerAncestralScheduler {
  const config = parseSchedulerConfig(eulerAncestralConfigSchema, NAME, rawConfig);
  const ac = alphasCumprod(makeBetas(config));
  const train = trainSigmas(ac);
  // Before setTimesteps diffusers holds the full reversed train sigmas with a trailing 0.
  let sigmas = new Float32Array(train.length + 1);
  sigmas.set(train.slice().reverse());
  let timesteps: number[] = [];
  let stepIndex: number | null = null;

  const maxSigma = (): number => sigmas.reduce((m, s) => (s > m ? s : m), -Infinity);

  function initStepIndex(t: number): number {
    const hits: number[] = [];
    timesteps.forEach((v, i) => v === t && hits.push(i));
    if (hits.length === 0) throw new Error(`${NAME}: timestep ${t} is not in the schedule [${timesteps.join(', ')}]`);
    return hits.length > 1 ? hits[1] : hits[0];
  }

  const scheduler: EulerAncestralScheduler = {
    className: NAME,
    config,
    alphasCumprod: ac,
    get timesteps() {
      return timesteps;
    },
    get sigmas() {
      return sigmas;
    },
    get initNoiseSigma() {
      const m = maxSigma();
      return config.timestep_spacing === 'leading' ? f32(Math.sqrt(f32(f32(m * m) + 1))) : m;
    },
    setTimesteps(n: number) {
      if (!Number.isInteger(n) || n < 1) throw new Error(`${NAME}: numInferenceSteps must be a positive integer, got ${n}`);
      const T = config.num_train_timesteps;
      timesteps = singleStepTimesteps(config.timestep_spacing, T, n, config.steps_offset, false).map(f32);
      sigmas = new Float32Array(timesteps.length + 1);
      timesteps.forEach((t, i) => (sigmas[i] = interp(t, train)));
      stepIndex = null;
    },
    scaleModelInput(sample: Float32Array, t: number) {
      if (timesteps.length === 0) throw new Error(`${NAME}: call setTimesteps before scaleModelInput`);
      if (stepIndex === null) stepIndex = initStepIndex(t);
      const s = sigmas[stepIndex];
      const d = f32(Math.sqrt(f32(f32(s * s) + 1)));
      return sample.map((v) => f32(v / d));
    },
    step(modelOutput: Float32Array, t: number, sample: Float32Array, opts: StepOptions = {}): StepResult {
      if (timesteps.length === 0) throw new Error(`${NAME}: call setTimesteps before step`);
      assertSameLength(`${NAME}.step`, modelOutput, sample);
      if (!opts.noise) throw new Error(`${NAME}: step needs opts.noise (N(0,1), one value per element)`);
      assertSameLength(`${NAME}.step noise`, opts.noise, sample);
      if (stepIndex === null) stepIndex = initStepIndex(t);
      if (stepIndex >= timesteps.length) throw new Error(`${NAME}: step called more times than there are timesteps`);
      const sigma = sigmas[stepIndex];
      const sigmaTo = sigmas[stepIndex + 1];
      const n = sample.length;
      const x0 = new Float32Array(n);
      if (config.prediction_type === 'epsilon') {
        for (let i = 0; i < n; i++) x0[i] = f32(sample[i] - f32(sigma * modelOutput[i]));
      } else {
        const s2p1 = f32(f32(sigma * sigma) + 1);
        const c = f32(-sigma / f32(Math.sqrt(s2p1)));
        for (let i = 0; i < n; i++) x0[i] = f32(f32(modelOutput[i] * c) + f32(sample[i] / s2p1));
      }
      const from2 = f32(sigma * sigma);
      const to2 = f32(sigmaTo * sigmaTo);
      const sigmaUp = f32(Math.sqrt(f32(f32(to2 * f32(from2 - to2)) / from2)));
      const sigmaDown = f32(Math.sqrt(f32(to2 - f32(sigmaUp * sigmaUp))));
      const dt = f32(sigmaDown - sigma);
      const noise = opts.noise;
      const prevSample = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const derivative = f32(f32(sample[i] - x0[i]) / sigma);
        const v = f32(sample[i] + f32(derivative * dt));
        prevSample[i] = f32(v + f32(noise[i] * sigmaUp));
      }
      stepIndex++;
      return { prevSample, predOriginalSample: x0 };
    },
  };
  return scheduler;
}

/** np.interp(t, arange(len), values) in float64, stored float32. */
function interp(t: number, values: Float32Array): number {
  if (t <= 0) return values[0];
  const last = values.length - 1;
  if (t >= last) return values[last];
  const j = Math.floor(t);
  if (j === t) return values[j];
  const slope = values[j + 1] - values[j];
  return f32(slope * (t - j) + values[j]);
}
