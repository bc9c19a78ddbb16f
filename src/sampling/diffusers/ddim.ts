// DDIM (Song et al. 2021, arXiv 2010.02502 eq. 12 and 16), diffusers v0.21.0 DDIMScheduler.
//
// With a_t = ᾱ_t, a_prev = ᾱ_{t − T/N} (or final_alpha_cumprod = 1 / ᾱ_0 past the start, per set_alpha_to_one):
//   x0  = (x − √(1−a_t) ε)/√a_t                      (epsilon; v: √a_t x − √(1−a_t) v; sample: the output)
//   ε   = model output                              (v: √a_t v + √(1−a_t) x; sample: (x − √a_t x0)/√(1−a_t))
//   x0 is clipped to ±clip_sample_range when clip_sample.
//   σ_t = η √((1−a_prev)/(1−a_t)) √(1 − a_t/a_prev)
//   x_prev = √a_prev x0 + √(1 − a_prev − σ_t²) ε + σ_t · noise      (noise ~ N(0,1) from the caller when η > 0)
// The previous timestep is always t − T // N, whatever the spacing (a v0.21 detail).
// All tensor arithmetic is float32 per operation, as torch does.
import { z } from 'zod';
import {
  alphasCumprod,
  makeBetas,
  noiseScheduleConfigShape,
  rescaleZeroTerminalSnr,
  singleStepTimesteps,
} from './betas.ts';
import { parseSchedulerConfig } from './configJson.ts';
import { assertSameLength, type DiffusersScheduler, type StepOptions, type StepResult } from './types.ts';

const f32 = Math.fround;

export const DDIM_CLASS_NAME = 'DDIMScheduler';
const NAME = DDIM_CLASS_NAME;

export const ddimConfigSchema = z.object({
  ...noiseScheduleConfigShape,
  clip_sample: z.boolean().default(true),
  set_alpha_to_one: z.boolean().default(true),
  thresholding: z.literal(false, { error: 'thresholding is not supported (it is for pixel-space models)' }).default(false),
  clip_sample_range: z.number().positive().default(1),
  timestep_spacing: z.enum(['linspace', 'leading', 'trailing']).default('leading'),
  rescale_betas_zero_snr: z.boolean().default(false),
});

export type DDIMConfig = z.output<typeof ddimConfigSchema>;

export interface DDIMScheduler extends DiffusersScheduler {
  readonly config: Readonly<DDIMConfig>;
}

/** Builds a DDIM scheduler from a diffusers config (unknown keys ignored). */
export function createDDIM(rawConfig: Record<string, unknown> = {}): DDIMScheduler {
  const config = parseSchedulerConfig(ddimConfigSchema, NAME, rawConfig);
  let betas = makeBetas(config);
  if (config.rescale_betas_zero_snr) betas = rescaleZeroTerminalSnr(betas);
  const ac = alphasCumprod(betas);
  const T = config.num_train_timesteps;
  const finalAlphaCumprod = config.set_alpha_to_one ? 1 : ac[0];
  let timesteps: number[] = [];
  let numInferenceSteps = 0;

  const alphaAt = (t: number): number => {
    if (!Number.isInteger(t) || t >= T) throw new Error(`${NAME}: timestep ${t} is not an integer train step below ${T}`);
    return t >= 0 ? ac[t] : finalAlphaCumprod;
  };

  return {
    className: NAME,
    config,
    alphasCumprod: ac,
    get timesteps() {
      return timesteps;
    },
    sigmas: new Float32Array(0),
    initNoiseSigma: 1,
    setTimesteps(n: number) {
      if (!Number.isInteger(n) || n < 1) throw new Error(`${NAME}: numInferenceSteps must be a positive integer, got ${n}`);
      if (n > T) throw new Error(`${NAME}: numInferenceSteps ${n} cannot exceed num_train_timesteps ${T}`);
      numInferenceSteps = n;
      timesteps = singleStepTimesteps(config.timestep_spacing, T, n, config.steps_offset, true);
    },
    scaleModelInput(sample: Float32Array) {
      return sample;
    },
    step(modelOutput: Float32Array, t: number, sample: Float32Array, opts: StepOptions = {}): StepResult {
      if (numInferenceSteps === 0) throw new Error(`${NAME}: call setTimesteps before step`);
      assertSameLength(`${NAME}.step`, modelOutput, sample);
      const eta = opts.eta ?? 0;
      if (!(eta >= 0)) throw new Error(`${NAME}: eta must be ≥ 0, got ${eta}`);
      if (eta > 0) {
        if (!opts.noise) throw new Error(`${NAME}: eta > 0 needs opts.noise (N(0,1), one value per element)`);
        assertSameLength(`${NAME}.step noise`, opts.noise, sample);
      }
      const prevT = t - Math.floor(T / numInferenceSteps);
      const aT = alphaAt(t);
      const aPrev = alphaAt(prevT);
      const bT = f32(1 - aT);
      const sqrtA = f32(Math.sqrt(aT));
      const sqrtB = f32(Math.sqrt(bT));
      const n = sample.length;
      const x0 = new Float32Array(n);
      let eps: Float32Array = new Float32Array(n);
      switch (config.prediction_type) {
        case 'epsilon':
          for (let i = 0; i < n; i++) x0[i] = f32(f32(sample[i] - f32(sqrtB * modelOutput[i])) / sqrtA);
          eps = modelOutput;
          break;
        case 'sample':
          x0.set(modelOutput);
          for (let i = 0; i < n; i++) eps[i] = f32(f32(sample[i] - f32(sqrtA * x0[i])) / sqrtB);
          break;
        case 'v_prediction':
          for (let i = 0; i < n; i++) {
            x0[i] = f32(f32(sqrtA * sample[i]) - f32(sqrtB * modelOutput[i]));
            eps[i] = f32(f32(sqrtA * modelOutput[i]) + f32(sqrtB * sample[i]));
          }
          break;
      }
      if (config.clip_sample) {
        const r = config.clip_sample_range;
        for (let i = 0; i < n; i++) x0[i] = Math.min(r, Math.max(-r, x0[i]));
      }
      // σ_t² = (1 − a_prev)/(1 − a_t) · (1 − a_t/a_prev)
      const variance = f32(f32(f32(1 - aPrev) / bT) * f32(1 - f32(aT / aPrev)));
      const std = f32(eta * f32(Math.sqrt(variance)));
      if (opts.useClippedModelOutput) {
        eps = new Float32Array(n);
        for (let i = 0; i < n; i++) eps[i] = f32(f32(sample[i] - f32(sqrtA * x0[i])) / sqrtB);
      }
      const dirScale = f32(Math.sqrt(f32(f32(1 - aPrev) - f32(std * std))));
      const sqrtAPrev = f32(Math.sqrt(aPrev));
      const prevSample = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        let v = f32(f32(sqrtAPrev * x0[i]) + f32(dirScale * eps[i]));
        if (eta > 0) v = f32(v + f32(std * opts.noise![i]));
        prevSample[i] = v;
      }
      return { prevSample, predOriginalSample: x0 };
    },
  };
}
