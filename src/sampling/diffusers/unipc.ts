// UniPC multistep scheduler (Zhao et al. 2023, arXiv 2302.04867), diffusers v0.21.0 UniPCMultistepScheduler.
//
// Noise model x_t = α_t x0 + σ_t ε with α_t = √ᾱ_t, σ_t = √(1−ᾱ_t), λ_t = log α_t − log σ_t.
// With predict_x0 the model output is converted to m = x0 (epsilon: (x − σ_t ε)/α_t; v: α_t x − σ_t v).
//
// Predictor UniP-p from s0 (current) to t (next), h = λ_t − λ_s0, hh = −h (predict_x0) or h:
//   r_k = (λ_{s_k} − λ_s0)/h,   D1_k = (m_k − m0)/r_k          (k = 1..p−1, older model outputs)
//   h_phi_1 = expm1(hh),  B_h = hh (bh1) or expm1(hh) (bh2)
//   x_t = (σ_t/σ_s0) x − α_t h_phi_1 m0 − α_t B_h Σ_k ρ_k D1_k   (predict_x0)
//   x_t = (α_t/α_s0) x − σ_t h_phi_1 m0 − σ_t B_h Σ_k ρ_k D1_k   (noise prediction)
//   ρ = 0.5 for p = 2, else R[:-1,:-1] ρ = b[:-1] with R_ij = r_j^{i}, b_i = i!·h_phi_{i+1}/B_h,
//   h_phi_{k+1} = h_phi_k/hh − 1/(k+1)!  (starting from h_phi_1/hh − 1).
// Corrector UniC-p at the next call, once m_t = model(x_t) is known (x = previous sample):
//   x_t^c = (σ_t/σ_s0) x − α_t h_phi_1 m0 − α_t B_h (Σ_k ρ^c_k D1_k + ρ^c_p (m_t − m0)),
//   ρ^c = 0.5 for p = 1, else R ρ^c = b.
// Orders warm up 1, 2, … and with lower_order_final drop to min(order, steps left) at the end.
//
// v0.21 quirks kept: with use_karras_sigmas the Karras sigmas only choose the (rounded, integer) timesteps;
// the update reads α, σ, λ at those integers. The last step goes to t = 0 (σ_min), not σ = 0, unless the
// config has final_sigmas_type "zero" (a later diffusers option; then the last step is first order and lands on x0).
// All tensor arithmetic rounds to float32 after every operation, as torch does.
import { z } from 'zod';
import { alphasCumprod, makeBetas, noiseScheduleConfigShape, vpCoefficients } from './betas.ts';
import { parseSchedulerConfig } from './configJson.ts';
import { coefficientLookup, convertModelOutput, multistepConfigShape, multistepSchedule, ZERO_SIGMA } from './multistep.ts';
import { assertSameLength, type DiffusersScheduler, type StepResult } from './types.ts';

const f32 = Math.fround;

export const UNIPC_CLASS_NAME = 'UniPCMultistepScheduler';

export const uniPcConfigSchema = z.object({
  ...noiseScheduleConfigShape,
  ...multistepConfigShape,
  solver_order: z.number().int().min(1).default(2),
  predict_x0: z.boolean().default(true),
  // diffusers maps DPM-Solver's solver types to bh2 when a DPM config is loaded into UniPC.
  solver_type: z
    .enum(['bh1', 'bh2', 'midpoint', 'heun', 'logrho'])
    .default('bh2')
    .transform((s) => (s === 'bh1' ? 'bh1' : 'bh2')),
  disable_corrector: z.array(z.number().int()).default([]),
  solver_p: z.null({ error: 'solver_p (an external predictor) is not supported' }).default(null),
});

export type UniPCConfig = z.output<typeof uniPcConfigSchema>;

export interface UniPCScheduler extends DiffusersScheduler {
  readonly config: Readonly<UniPCConfig>;
  readonly alphaT: Float32Array;
  readonly sigmaT: Float32Array;
  readonly lambdaT: Float32Array;
}

/** Builds a UniPC scheduler from a diffusers config (unknown keys ignored, defaults as in diffusers v0.21). */
export function createUniPC(rawConfig: Record<string, unknown> = {}): UniPCScheduler {
  const config = parseSchedulerConfig(uniPcConfigSchema, UNIPC_CLASS_NAME, rawConfig);
  if (config.final_sigmas_type === 'zero' && !config.predict_x0) {
    throw new Error(`${UNIPC_CLASS_NAME}: final_sigmas_type "zero" needs predict_x0 (the noise form divides by σ = 0)`);
  }
  const ac = alphasCumprod(makeBetas(config));
  const vp = vpCoefficients(ac);
  const { alphaT, sigmaT, lambdaT } = vp;
  const order = config.solver_order;

  let timesteps: number[] = [];
  let sigmas: Float32Array | Float64Array = new Float32Array(0);
  let modelOutputs: (Float32Array | null)[] = [];
  let timestepList: (number | null)[] = new Array(order).fill(null);
  let lowerOrderNums = 0;
  let lastSample: Float32Array | null = null;
  let thisOrder = 1;

  const coef = coefficientLookup(UNIPC_CLASS_NAME, vp);

  /** The shared part of UniP and UniC: h, r_k, D1_k, h_phi_1, B_h and the system R, b. */
  function bhTerms(s0: number, t: number, p: number) {
    const m0 = modelOutputs[order - 1]!;
    const cT = coef(t);
    const cS0 = coef(s0);
    const h = f32(cT.lambda - cS0.lambda);
    const rks: number[] = [];
    const D1s: Float32Array[] = [];
    for (let i = 1; i < p; i++) {
      const si = timestepList[order - 1 - i]!;
      const mi = modelOutputs[order - 1 - i]!;
      const rk = f32(f32(coef(si).lambda - cS0.lambda) / h);
      rks.push(rk);
      const d = new Float32Array(m0.length);
      for (let j = 0; j < d.length; j++) d[j] = f32(f32(mi[j] - m0[j]) / rk);
      D1s.push(d);
    }
    rks.push(1);
    const hh = config.predict_x0 ? -h : h;
    const hPhi1 = f32(Math.expm1(hh));
    const Bh = config.solver_type === 'bh1' ? hh : f32(Math.expm1(hh));
    let hPhiK = f32(f32(hPhi1 / hh) - 1);
    let factorial = 1;
    const R: number[][] = [];
    const b: number[] = [];
    for (let i = 1; i <= p; i++) {
      R.push(rks.map((r) => powF32(r, i - 1)));
      b.push(f32(f32(hPhiK * factorial) / Bh));
      factorial *= i + 1;
      hPhiK = f32(f32(hPhiK / hh) - f32(1 / factorial));
    }
    // x_t_ = (σ_t/σ_s0) x − (α_t h_phi_1) m0 for predict_x0, (α_t/α_s0) x − (σ_t h_phi_1) m0 otherwise.
    const xScale = config.predict_x0 ? f32(cT.sigma / cS0.sigma) : f32(cT.alpha / cS0.alpha);
    const outer = config.predict_x0 ? cT.alpha : cT.sigma;
    return { m0, D1s, R, b, xScale, m0Scale: f32(outer * hPhi1), resScale: f32(outer * Bh) };
  }

  function predictor(x: Float32Array, t: number, p: number): Float32Array {
    const s0 = timestepList[order - 1]!;
    const { m0, D1s, R, b, xScale, m0Scale, resScale } = bhTerms(s0, t, p);
    const rhos = D1s.length === 0 ? [] : p === 2 ? [0.5] : solveF32(R.slice(0, -1).map((r) => r.slice(0, -1)), b.slice(0, -1));
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      let v = f32(f32(xScale * x[i]) - f32(m0Scale * m0[i]));
      if (D1s.length > 0) v = f32(v - f32(resScale * weightedSum(rhos, D1s, i)));
      out[i] = v;
    }
    return out;
  }

  function corrector(modelT: Float32Array, t: number, last: Float32Array, p: number): Float32Array {
    const s0 = timestepList[order - 1]!;
    const { m0, D1s, R, b, xScale, m0Scale, resScale } = bhTerms(s0, t, p);
    const rhos = p === 1 ? [0.5] : solveF32(R, b);
    const rhoT = rhos[rhos.length - 1];
    const out = new Float32Array(last.length);
    for (let i = 0; i < last.length; i++) {
      const base = f32(f32(xScale * last[i]) - f32(m0Scale * m0[i]));
      const tTerm = f32(rhoT * f32(modelT[i] - m0[i]));
      const res = D1s.length > 0 ? f32(weightedSum(rhos, D1s, i) + tTerm) : tTerm;
      out[i] = f32(base - f32(resScale * res));
    }
    return out;
  }

  const scheduler: UniPCScheduler = {
    className: UNIPC_CLASS_NAME,
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
      ({ timesteps, sigmas } = multistepSchedule(UNIPC_CLASS_NAME, config, ac, n));
      for (const t of timesteps) coef(t);
      modelOutputs = new Array(order).fill(null);
      lowerOrderNums = 0;
      lastSample = null;
    },
    scaleModelInput(sample: Float32Array) {
      return sample;
    },
    step(modelOutput: Float32Array, t: number, sample: Float32Array): StepResult {
      if (timesteps.length === 0) throw new Error(`${UNIPC_CLASS_NAME}: call setTimesteps before step`);
      assertSameLength(`${UNIPC_CLASS_NAME}.step`, modelOutput, sample);
      let stepIndex = timesteps.indexOf(t);
      if (stepIndex < 0) stepIndex = timesteps.length - 1;
      const isLast = stepIndex === timesteps.length - 1;
      const useCorrector = stepIndex > 0 && !config.disable_corrector.includes(stepIndex - 1) && lastSample !== null;
      const converted = convertModelOutput(modelOutput, sample, coef(t), config.prediction_type, config.predict_x0);
      let x = sample;
      if (useCorrector) x = corrector(converted, t, lastSample!, thisOrder);
      const zeroFinal = isLast && config.final_sigmas_type === 'zero';
      const prevT = zeroFinal ? ZERO_SIGMA : isLast ? 0 : timesteps[stepIndex + 1];
      modelOutputs.shift();
      modelOutputs.push(converted);
      timestepList.shift();
      timestepList.push(t);
      let o = config.lower_order_final ? Math.min(order, timesteps.length - stepIndex) : order;
      if (zeroFinal) o = 1;
      thisOrder = Math.min(o, lowerOrderNums + 1);
      lastSample = x;
      const prevSample = predictor(x, prevT, thisOrder);
      if (lowerOrderNums < order) lowerOrderNums++;
      return { prevSample, convertedModelOutput: converted, correctedSample: x };
    },
  };
  return scheduler;
}

/** torch.pow(float32, k) for the small integer exponents UniPC uses (k = 0, 1 exact; k ≥ 2 by repeated products). */
function powF32(x: number, k: number): number {
  let v = 1;
  for (let i = 0; i < k; i++) v = f32(v * x);
  return v;
}

/** Σ_k ρ_k D_k[i] (torch.einsum over k), float32. */
function weightedSum(rhos: number[], Ds: Float32Array[], i: number): number {
  let s = f32(rhos[0] * Ds[0][i]);
  for (let k = 1; k < Ds.length; k++) s = f32(s + f32(rhos[k] * Ds[k][i]));
  return s;
}

/** Solves A x = b (Gaussian elimination with partial pivoting, float64) and rounds x to float32. */
function solveF32(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    if (M[c][c] === 0) throw new Error(`${UNIPC_CLASS_NAME}: singular UniPC coefficient system (repeated timesteps?)`);
    for (let r = c + 1; r < n; r++) {
      const k = M[r][c] / M[c][c];
      for (let j = c; j <= n; j++) M[r][j] -= k * M[c][j];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let j = r + 1; j < n; j++) s -= M[r][j] * x[j];
    x[r] = s / M[r][r];
  }
  return x.map(f32);
}
