// DPM-Solver / DPM-Solver++ multistep (Lu et al. 2022, arXiv 2206.00927 and 2211.01095),
// diffusers v0.21.0 DPMSolverMultistepScheduler.
//
// x_t = α_t x0 + σ_t ε, α_t = √ᾱ_t, σ_t = √(1−ᾱ_t), λ_t = log α_t − log σ_t; h = λ_t − λ_s0, r0 = (λ_s0 − λ_s1)/h.
// dpmsolver++ works on m = x0 (epsilon: (x − σ ε)/α; v: α x − σ v); dpmsolver on m = ε.
//   1st order (++):      x_t = (σ_t/σ_s) x − α_t (e^{−h} − 1) m0
//   2M midpoint (++):    x_t = (σ_t/σ_s0) x − α_t (e^{−h} − 1) D0 − ½ α_t (e^{−h} − 1) D1,  D0 = m0, D1 = (m0 − m1)/r0
//   2M heun (++):        x_t = (σ_t/σ_s0) x − α_t (e^{−h} − 1) D0 + α_t ((e^{−h} − 1)/h + 1) D1
//   3M (++):             D1 = D1_0 + r0/(r0+r1)(D1_0 − D1_1), D2 = (D1_0 − D1_1)/(r0+r1),
//                        x_t = (σ_t/σ_s0) x − α_t(e^{−h}−1) D0 + α_t((e^{−h}−1)/h + 1) D1 − α_t((e^{−h}−1+h)/h² − ½) D2
//   dpmsolver (noise form) swaps α↔σ and −h↔h; the SDE variants add σ_t √(1 − e^{−2h}) · noise (noise from the caller).
// Warm-up: first order at the first step, second at the second; with lower_order_final and < 15 steps the
// last step is first order and the one before it at most second order.
//
// v0.21 quirks kept: with use_karras_sigmas the Karras sigmas only choose the (rounded, integer) timesteps; the
// update reads α, σ, λ at those integers. The last step goes to t = 0 (σ_min) unless the config carries the
// later option final_sigmas_type "zero" (then the last step is first order and lands on x0).
// All tensor arithmetic rounds to float32 after every operation, as torch does.
import { z } from 'zod';
import { alphasCumprod, makeBetas, noiseScheduleConfigShape, vpCoefficients } from './betas.ts';
import { parseSchedulerConfig } from './configJson.ts';
import { coefficientLookup, convertModelOutput, multistepConfigShape, multistepSchedule, ZERO_SIGMA } from './multistep.ts';
import { assertSameLength, type DiffusersScheduler, type StepOptions, type StepResult } from './types.ts';

const f32 = Math.fround;

export const DPM_SOLVER_MULTISTEP_CLASS_NAME = 'DPMSolverMultistepScheduler';
const NAME = DPM_SOLVER_MULTISTEP_CLASS_NAME;

export const dpmSolverMultistepConfigSchema = z.object({
  ...noiseScheduleConfigShape,
  ...multistepConfigShape,
  solver_order: z.number().int().min(1).max(3).default(2),
  // diffusers maps "deis" to dpmsolver++ and the UniPC/DEIS solver types to midpoint.
  algorithm_type: z
    .enum(['dpmsolver', 'dpmsolver++', 'sde-dpmsolver', 'sde-dpmsolver++', 'deis'])
    .default('dpmsolver++')
    .transform((a) => (a === 'deis' ? 'dpmsolver++' : a)),
  solver_type: z
    .enum(['midpoint', 'heun', 'logrho', 'bh1', 'bh2'])
    .default('midpoint')
    .transform((s) => (s === 'heun' ? 'heun' : 'midpoint')),
  // Python writes -inf as -Infinity (parsePythonJson reads it); JSON.stringify would have written null.
  lambda_min_clipped: z
    .custom<number | null>((v) => v === null || (typeof v === 'number' && !Number.isNaN(v)), 'must be a number')
    .default(-Infinity)
    .transform((v) => v ?? -Infinity),
  variance_type: z
    .string()
    .nullable()
    .default(null)
    .refine((v) => v !== 'learned' && v !== 'learned_range', {
      error: 'variance_type learned/learned_range (a model that also outputs variance channels) is not supported',
    }),
});

export type DPMSolverMultistepConfig = z.output<typeof dpmSolverMultistepConfigSchema>;

export interface DPMSolverMultistepScheduler extends DiffusersScheduler {
  readonly config: Readonly<DPMSolverMultistepConfig>;
  readonly alphaT: Float32Array;
  readonly sigmaT: Float32Array;
  readonly lambdaT: Float32Array;
}

/** Builds a DPM-Solver(++) multistep scheduler from a diffusers config (unknown keys ignored). */
export function createDPMSolverMultistep(rawConfig: Record<string, unknown> = {}): DPMSolverMultistepScheduler {
  const config = parseSchedulerConfig(dpmSolverMultistepConfigSchema, NAME, rawConfig);
  const dataPrediction = config.algorithm_type === 'dpmsolver++' || config.algorithm_type === 'sde-dpmsolver++';
  const sde = config.algorithm_type.startsWith('sde-');
  if (config.final_sigmas_type === 'zero' && !dataPrediction) {
    throw new Error(`${NAME}: final_sigmas_type "zero" needs algorithm_type dpmsolver++ or sde-dpmsolver++`);
  }
  const ac = alphasCumprod(makeBetas(config));
  const vp = vpCoefficients(ac);
  const { alphaT, sigmaT, lambdaT } = vp;
  const order = config.solver_order;

  let timesteps: number[] = [];
  let sigmas: Float32Array | Float64Array = new Float32Array(0);
  let modelOutputs: (Float32Array | null)[] = [];
  let lowerOrderNums = 0;

  const coef = coefficientLookup(NAME, vp);

  /**
   * Every update is x_t = c_x·x + Σ_j c_j·D_j (+ c_n·noise), each coefficient a float32 scalar computed the way
   * diffusers groups it; this evaluates that sum element-wise left to right, as torch does.
   */
  function combine(x: Float32Array, cx: number, terms: [number, Float32Array][], noise?: [number, Float32Array]): Float32Array {
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      let v = f32(cx * x[i]);
      for (const [c, D] of terms) v = f32(v + f32(c * D[i]));
      if (noise) v = f32(v + f32(noise[0] * noise[1][i]));
      out[i] = v;
    }
    return out;
  }

  const exp = (v: number): number => f32(Math.exp(v));

  function firstOrder(m0: Float32Array, s: number, t: number, x: Float32Array, noise?: Float32Array): Float32Array {
    const cT = coef(t);
    const cS = coef(s);
    const h = f32(cT.lambda - cS.lambda);
    switch (config.algorithm_type) {
      case 'dpmsolver++':
        return combine(x, f32(cT.sigma / cS.sigma), [[-f32(cT.alpha * f32(exp(-h) - 1)), m0]]);
      case 'dpmsolver':
        return combine(x, f32(cT.alpha / cS.alpha), [[-f32(cT.sigma * f32(exp(h) - 1)), m0]]);
      case 'sde-dpmsolver++':
        return combine(x, f32(f32(cT.sigma / cS.sigma) * exp(-h)), [[f32(cT.alpha * f32(1 - exp(f32(-2 * h)))), m0]], [
          f32(cT.sigma * f32(Math.sqrt(f32(1 - exp(f32(-2 * h)))))),
          noise!,
        ]);
      default: // sde-dpmsolver
        return combine(x, f32(cT.alpha / cS.alpha), [[-f32(2 * f32(cT.sigma * f32(exp(h) - 1))), m0]], [
          f32(cT.sigma * f32(Math.sqrt(f32(exp(f32(2 * h)) - 1)))),
          noise!,
        ]);
    }
  }

  function secondOrder(s1: number, s0: number, t: number, x: Float32Array, noise?: Float32Array): Float32Array {
    const m0 = modelOutputs[order - 1]!;
    const m1 = modelOutputs[order - 2]!;
    const cT = coef(t);
    const cS0 = coef(s0);
    const h = f32(cT.lambda - cS0.lambda);
    const h0 = f32(cS0.lambda - coef(s1).lambda);
    const r0 = f32(h0 / h);
    const inv = f32(1 / r0);
    const D1 = new Float32Array(m0.length);
    for (let i = 0; i < D1.length; i++) D1[i] = f32(inv * f32(m0[i] - m1[i]));
    const midpoint = config.solver_type === 'midpoint';
    switch (config.algorithm_type) {
      case 'dpmsolver++': {
        const a = f32(cT.alpha * f32(exp(-h) - 1));
        const d1 = midpoint ? -f32(0.5 * a) : f32(cT.alpha * f32(f32(f32(exp(-h) - 1) / h) + 1));
        return combine(x, f32(cT.sigma / cS0.sigma), [[-a, m0], [d1, D1]]);
      }
      case 'dpmsolver': {
        const a = f32(cT.sigma * f32(exp(h) - 1));
        const d1 = midpoint ? -f32(0.5 * a) : -f32(cT.sigma * f32(f32(f32(exp(h) - 1) / h) - 1));
        return combine(x, f32(cT.alpha / cS0.alpha), [[-a, m0], [d1, D1]]);
      }
      case 'sde-dpmsolver++': {
        const e2 = exp(f32(-2 * h));
        const a = f32(cT.alpha * f32(1 - e2));
        const d1 = midpoint ? f32(0.5 * a) : f32(cT.alpha * f32(f32(f32(1 - e2) / f32(-2 * h)) + 1));
        return combine(x, f32(f32(cT.sigma / cS0.sigma) * exp(-h)), [[a, m0], [d1, D1]], [
          f32(cT.sigma * f32(Math.sqrt(f32(1 - e2)))),
          noise!,
        ]);
      }
      default: {
        const a = f32(cT.sigma * f32(exp(h) - 1));
        const d0 = -f32(2 * a);
        const d1 = midpoint ? -a : -f32(2 * f32(cT.sigma * f32(f32(f32(exp(h) - 1) / h) - 1)));
        return combine(x, f32(cT.alpha / cS0.alpha), [[d0, m0], [d1, D1]], [
          f32(cT.sigma * f32(Math.sqrt(f32(exp(f32(2 * h)) - 1)))),
          noise!,
        ]);
      }
    }
  }

  function thirdOrder(s2: number, s1: number, s0: number, t: number, x: Float32Array): Float32Array {
    const [m2, m1, m0] = [modelOutputs[order - 3]!, modelOutputs[order - 2]!, modelOutputs[order - 1]!];
    const cT = coef(t);
    const cS0 = coef(s0);
    const l1 = coef(s1).lambda;
    const h = f32(cT.lambda - cS0.lambda);
    const r0 = f32(f32(cS0.lambda - l1) / h);
    const r1 = f32(f32(l1 - coef(s2).lambda) / h);
    const [i0, i1, r01] = [f32(1 / r0), f32(1 / r1), f32(r0 + r1)];
    const [w, i01] = [f32(r0 / r01), f32(1 / r01)];
    const D1 = new Float32Array(m0.length);
    const D2 = new Float32Array(m0.length);
    for (let i = 0; i < D1.length; i++) {
      const d10 = f32(i0 * f32(m0[i] - m1[i]));
      const d11 = f32(i1 * f32(m1[i] - m2[i]));
      const diff = f32(d10 - d11);
      D1[i] = f32(d10 + f32(w * diff));
      D2[i] = f32(i01 * diff);
    }
    const hh = f32(h * h);
    if (config.algorithm_type === 'dpmsolver++') {
      const em = f32(exp(-h) - 1);
      return combine(x, f32(cT.sigma / cS0.sigma), [
        [-f32(cT.alpha * em), m0],
        [f32(cT.alpha * f32(f32(em / h) + 1)), D1],
        [-f32(cT.alpha * f32(f32(f32(em + h) / hh) - 0.5)), D2],
      ]);
    }
    const ep = f32(exp(h) - 1);
    return combine(x, f32(cT.alpha / cS0.alpha), [
      [-f32(cT.sigma * ep), m0],
      [-f32(cT.sigma * f32(f32(ep / h) - 1)), D1],
      [-f32(cT.sigma * f32(f32(f32(ep - h) / hh) - 0.5)), D2],
    ]);
  }

  const scheduler: DPMSolverMultistepScheduler = {
    className: NAME,
    config,
    alphasCumprod: ac,
    alphaT,
    sigmaT,
    lambdaT,
    get timesteps() {
      return timesteps;
    },
    get sigmas() {
      return sigmas;
    },
    initNoiseSigma: 1,
    setTimesteps(n: number) {
      const T = config.num_train_timesteps;
      // lambda_min_clipped: skip the noisiest train steps whose λ is below the clip (searchsorted on flipped λ).
      let clippedIdx = 0;
      while (clippedIdx < T && lambdaT[T - 1 - clippedIdx] < config.lambda_min_clipped) clippedIdx++;
      ({ timesteps, sigmas } = multistepSchedule(NAME, config, ac, n, T - clippedIdx));
      for (const t of timesteps) coef(t);
      modelOutputs = new Array(order).fill(null);
      lowerOrderNums = 0;
    },
    scaleModelInput(sample: Float32Array) {
      return sample;
    },
    step(modelOutput: Float32Array, t: number, sample: Float32Array, opts: StepOptions = {}): StepResult {
      if (timesteps.length === 0) throw new Error(`${NAME}: call setTimesteps before step`);
      assertSameLength(`${NAME}.step`, modelOutput, sample);
      if (sde) {
        if (!opts.noise) throw new Error(`${NAME}: algorithm_type ${config.algorithm_type} needs opts.noise (N(0,1), one value per element)`);
        assertSameLength(`${NAME}.step noise`, opts.noise, sample);
      }
      let stepIndex = timesteps.indexOf(t);
      if (stepIndex < 0) stepIndex = timesteps.length - 1;
      const n = timesteps.length;
      const isLast = stepIndex === n - 1;
      const zeroFinal = isLast && config.final_sigmas_type === 'zero';
      const prevT = zeroFinal ? ZERO_SIGMA : isLast ? 0 : timesteps[stepIndex + 1];
      const lowerFinal = (isLast && config.lower_order_final && n < 15) || zeroFinal;
      const lowerSecond = stepIndex === n - 2 && config.lower_order_final && n < 15;
      const converted = convertModelOutput(modelOutput, sample, coef(t), config.prediction_type, dataPrediction);
      modelOutputs.shift();
      modelOutputs.push(converted);
      let prevSample: Float32Array;
      if (order === 1 || lowerOrderNums < 1 || lowerFinal) {
        prevSample = firstOrder(converted, t, prevT, sample, opts.noise);
      } else if (order === 2 || lowerOrderNums < 2 || lowerSecond) {
        prevSample = secondOrder(timesteps[stepIndex - 1], t, prevT, sample, opts.noise);
      } else {
        if (sde) throw new Error(`${NAME}: third order is not defined for ${config.algorithm_type}`);
        prevSample = thirdOrder(timesteps[stepIndex - 2], timesteps[stepIndex - 1], t, prevT, sample);
      }
      if (lowerOrderNums < order) lowerOrderNums++;
      return { prevSample, convertedModelOutput: converted };
    },
  };
  return scheduler;
}
