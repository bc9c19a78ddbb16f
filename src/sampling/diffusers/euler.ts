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
import { alphasCumprod, makeBetas, noiseScheduleConfigShape, trainSigmas } from './betas.ts';
import { discreteSigmaSchedule } from './discreteSigmas.ts';
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
  const schedule = discreteSigmaSchedule(EULER_CLASS_NAME, config, trainSigmas(ac));

  return {
    className: EULER_CLASS_NAME,
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
    sigmaAt(t: number) {
      return schedule.sigmas[schedule.indexOf(t, 'sigmaAt')];
    },
    scaleModelInput: schedule.scaleModelInput,
    step(modelOutput: Float32Array, t: number, sample: Float32Array): StepResult {
      assertSameLength(`${EULER_CLASS_NAME}.step`, modelOutput, sample);
      const i = schedule.currentIndex(t, 'step', true);
      const sigma = schedule.sigmas[i];
      const dt = f32(schedule.sigmas[i + 1] - sigma);
      const x0 = schedule.predictX0(modelOutput, sample, sigma);
      const prevSample = new Float32Array(sample.length);
      for (let j = 0; j < sample.length; j++) prevSample[j] = f32(sample[j] + f32(f32(f32(sample[j] - x0[j]) / sigma) * dt));
      schedule.advance();
      return { prevSample, predOriginalSample: x0 };
    },
  };
}
