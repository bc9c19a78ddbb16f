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
import { alphasCumprod, makeBetas, noiseScheduleConfigShape, trainSigmas } from './betas.ts';
import { discreteSigmaSchedule } from './discreteSigmas.ts';
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
  const schedule = discreteSigmaSchedule(NAME, config, trainSigmas(ac));

  return {
    className: NAME,
    config,
    alphasCumprod: ac,
    get timesteps() {
      return schedule.timesteps;
    },
    get sigmas() {
      return schedule.sigmas;
    },
    get initNoiseSigma() {
      return schedule.initNoiseSigma;
    },
    setTimesteps: schedule.setTimesteps,
    scaleModelInput: schedule.scaleModelInput,
    step(modelOutput: Float32Array, t: number, sample: Float32Array, opts: StepOptions = {}): StepResult {
      if (schedule.timesteps.length === 0) throw new Error(`${NAME}: call setTimesteps before step`);
      assertSameLength(`${NAME}.step`, modelOutput, sample);
      if (!opts.noise) throw new Error(`${NAME}: step needs opts.noise (N(0,1), one value per element)`);
      assertSameLength(`${NAME}.step noise`, opts.noise, sample);
      const i = schedule.currentIndex(t, 'step', true);
      const sigma = schedule.sigmas[i];
      const sigmaTo = schedule.sigmas[i + 1];
      const x0 = schedule.predictX0(modelOutput, sample, sigma);
      const from2 = f32(sigma * sigma);
      const to2 = f32(sigmaTo * sigmaTo);
      const sigmaUp = f32(Math.sqrt(f32(f32(to2 * f32(from2 - to2)) / from2)));
      const sigmaDown = f32(Math.sqrt(f32(to2 - f32(sigmaUp * sigmaUp))));
      const dt = f32(sigmaDown - sigma);
      const noise = opts.noise;
      const prevSample = new Float32Array(sample.length);
      for (let j = 0; j < sample.length; j++) {
        const derivative = f32(f32(sample[j] - x0[j]) / sigma);
        const v = f32(sample[j] + f32(derivative * dt));
        prevSample[j] = f32(v + f32(noise[j] * sigmaUp));
      }
      schedule.advance();
      return { prevSample, predOriginalSample: x0 };
    },
  };
}
