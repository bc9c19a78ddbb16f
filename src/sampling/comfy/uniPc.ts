// UniPC (Zhao et al. 2023) as ComfyUI runs it (comfy/extra_samplers/uni_pc.py, sample_unipc):
// multistep predictor–corrector in data-prediction form, B(h) = h (bh1) or e^h − 1 (bh2),
// order = min(3, len(sigmas) − 2), lower_order_final, corrector on every step but the last.
// It works in VP space with the *sigma itself* as time:
//   α(σ) = 1/√(1 + σ²), s(σ) = √(1 − α²), λ(σ) = log α − log s,  x_vp = x / √(1 + σ₀²)
// With h = λ_t − λ_prev, hh = −h, hφ₁ = e^{hh} − 1, m₀ the last model value and D1_k = (m_k − m₀)/r_k:
//   predictor  x_t = (s_t/s_prev)·x − α_t·hφ₁·m₀ − α_t·B(h)·Σ ρᵖ_k D1_k
//   corrector  x_t = (s_t/s_prev)·x − α_t·hφ₁·m₀ − α_t·B(h)·(Σ ρᶜ_k D1_k + ρᶜ_K·(m_t − m₀))
// ρ solve R·ρ = b with R_{ij} = r_j^{i}, b_i = hφ_{i+1}·(i+1)!/B(h) (order 2 predictor and order 1
// corrector use ρ = ½). Quirks kept: a final sigma of 0 is replaced by 0.001 *in the caller's
// array*, the result is divided by α(0.001), and the callback gets VP-space x after each step
// (after the first model call for i = 0), with the data prediction as denoised.
import { expF32, expm1F32, f32, logF32, powF32, sqrtF32 } from './float32.ts';
import { callModel, type Denoiser, type SamplerFunction } from './types.ts';

export type UniPcVariant = 'bh1' | 'bh2';

// SigmaConvert, in float32 like the torch tensors it runs on.
const logMeanCoeff = (s: number): number => f32(0.5 * logF32(f32(1 / f32(f32(s * s) + 1))));
const alphaOf = (s: number): number => expF32(logMeanCoeff(s));
const stdOf = (s: number): number => sqrtF32(f32(1 - expF32(f32(2 * logMeanCoeff(s)))));
function lambdaOf(s: number): number {
  const lmc = logMeanCoeff(s);
  const logStd = f32(0.5 * logF32(f32(1 - expF32(f32(2 * lmc)))));
  return f32(lmc - logStd);
}

/** Solves a small dense system (Gaussian elimination with partial pivoting), rounding to float32. */
function solve(matrix: number[][], rhs: number[]): number[] {
  const n = rhs.length;
  const a = matrix.map((row, i) => [...row.slice(0, n), rhs[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[p][c])) p = r;
    [a[c], a[p]] = [a[p], a[c]];
    if (a[c][c] === 0) throw new Error('UniPC: singular coefficient matrix (repeated sigmas?)');
    for (let r = c + 1; r < n; r++) {
      const m = a[r][c] / a[c][c];
      for (let k = c; k <= n; k++) a[r][k] -= m * a[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = a[r][n];
    for (let k = r + 1; k < n; k++) s -= a[r][k] * x[k];
    x[r] = s / a[r][r];
  }
  return x.map(f32);
}

/** Σ_k coeffs[k]·vectors[k] in float32 (torch.tensordot over the history axis). */
function combine(vectors: Float32Array[], coeffs: number[], size: number): Float32Array {
  const out = new Float32Array(size);
  for (let k = 0; k < vectors.length; k++) {
    const v = vectors[k];
    const c = coeffs[k];
    for (let j = 0; j < size; j++) out[j] = out[j] + f32(v[j] * c);
  }
  return out;
}

interface UpdateResult { x: Float32Array; modelT: Float32Array | null }

async function multistepUpdate(
  x: Float32Array,
  modelPrev: Float32Array[],
  tPrev: number[],
  t: number,
  order: number,
  useCorrector: boolean,
  variant: UniPcVariant,
  dataPrediction: (x: Float32Array, t: number) => Promise<Float32Array>,
): Promise<UpdateResult> {
  const size = x.length;
  const tPrev0 = tPrev[tPrev.length - 1];
  const lambdaPrev0 = lambdaOf(tPrev0);
  const lambdaT = lambdaOf(t);
  const m0 = modelPrev[modelPrev.length - 1];
  const sigmaPrev0 = stdOf(tPrev0);
  const sigmaT = stdOf(t);
  const alphaT = expF32(logMeanCoeff(t));
  const h = f32(lambdaT - lambdaPrev0);

  const rks: number[] = [];
  const d1s: Float32Array[] = [];
  for (let i = 1; i < order; i++) {
    const mi = modelPrev[modelPrev.length - 1 - i];
    const rk = f32(f32(lambdaOf(tPrev[tPrev.length - 1 - i]) - lambdaPrev0) / h);
    rks.push(rk);
    const d1 = new Float32Array(size);
    for (let j = 0; j < size; j++) d1[j] = f32(mi[j] - m0[j]) / rk;
    d1s.push(d1);
  }
  rks.push(1);

  const hh = -h;
  const hPhi1 = expm1F32(hh);
  let hPhiK = f32(f32(hPhi1 / hh) - 1);
  let factorial = 1;
  const bH = variant === 'bh1' ? hh : expm1F32(hh);
  const R: number[][] = [];
  const b: number[] = [];
  for (let i = 1; i <= order; i++) {
    R.push(rks.map((r) => powF32(r, i - 1)));
    b.push(f32(f32(hPhiK * factorial) / bH));
    factorial *= i + 1;
    hPhiK = f32(f32(hPhiK / hh) - f32(1 / factorial));
  }

  const usePredictor = d1s.length > 0;
  let rhosP: number[] = [];
  if (usePredictor) {
    rhosP = order === 2 ? [0.5] : solve(R.slice(0, -1).map((row) => row.slice(0, -1)), b.slice(0, -1));
  }
  const rhosC = useCorrector ? (order === 1 ? [0.5] : solve(R, b)) : [];

  const cx = f32(sigmaT / sigmaPrev0);
  const cm = f32(alphaT * hPhi1);
  const xBase = new Float32Array(size);
  for (let j = 0; j < size; j++) xBase[j] = f32(cx * x[j]) - f32(cm * m0[j]);
  const cB = f32(alphaT * bH);

  let xT = xBase;
  if (usePredictor) {
    const pred = combine(d1s, rhosP, size);
    xT = new Float32Array(size);
    for (let j = 0; j < size; j++) xT[j] = xBase[j] - f32(cB * pred[j]);
  }
  if (!useCorrector) return { x: xT, modelT: null };

  const modelT = await dataPrediction(xT, t);
  const corr = combine(d1s, rhosC.slice(0, -1), size);
  const rhoLast = rhosC[rhosC.length - 1];
  const out = new Float32Array(size);
  for (let j = 0; j < size; j++) {
    const d1t = f32(modelT[j] - m0[j]);
    out[j] = xBase[j] - f32(cB * f32(corr[j] + f32(rhoLast * d1t)));
  }
  return { x: out, modelT };
}

/** The data-prediction model in VP space, built from the k-diffusion denoiser (predict_eps_sigma). */
function vpDataPrediction(model: Denoiser): (x: Float32Array, t: number) => Promise<Float32Array> {
  return async (xVp, t) => {
    const scale = sqrtF32(f32(f32(t * t) + 1));
    const xK = new Float32Array(xVp.length);
    for (let j = 0; j < xVp.length; j++) xK[j] = xVp[j] * scale;
    const denoised = await callModel(model, xK, t);
    const alphaT = alphaOf(t);
    const sigmaT = stdOf(t);
    const x0 = new Float32Array(xVp.length);
    for (let j = 0; j < xVp.length; j++) {
      const eps = f32(xK[j] - denoised[j]) / t;
      x0[j] = f32(xVp[j] - f32(sigmaT * Math.fround(eps))) / alphaT;
    }
    return x0;
  };
}

export function createUniPcSampler(variant: UniPcVariant): SamplerFunction {
  return async (noise, { model, sigmas, callback, signal }) => {
    // ComfyUI: timesteps = sigmas[:] (a view) and timesteps[-1] = 0.001 when the schedule ends at 0.
    if (sigmas[sigmas.length - 1] === 0) sigmas[sigmas.length - 1] = 0.001;
    const timesteps = sigmas;
    const steps = timesteps.length - 1;
    const order = Math.min(3, timesteps.length - 2);
    if (order < 1) throw new Error(`uni_pc needs at least 2 steps (got ${steps})`);
    const dataPrediction = vpDataPrediction(model);

    const denom = sqrtF32(f32(1 + f32(timesteps[0] * timesteps[0])));
    let x: Float32Array = new Float32Array(noise.length);
    for (let j = 0; j < noise.length; j++) x[j] = noise[j] / denom;

    const modelPrev: Float32Array[] = [];
    const tPrev: number[] = [];
    for (let stepIndex = 0; stepIndex < steps; stepIndex++) {
      signal?.throwIfAborted();
      if (stepIndex === 0) {
        modelPrev.push(await dataPrediction(x, timesteps[0]));
        tPrev.push(timesteps[0]);
      } else if (stepIndex < order) {
        const t = timesteps[stepIndex];
        const res = await multistepUpdate(x, modelPrev, tPrev, t, stepIndex, true, variant, dataPrediction);
        x = res.x;
        modelPrev.push(res.modelT ?? (await dataPrediction(x, t)));
        tPrev.push(t);
      } else {
        const extraFinalStep = stepIndex === steps - 1 ? 1 : 0;
        for (let step = stepIndex; step <= stepIndex + extraFinalStep; step++) {
          const t = timesteps[step];
          const stepOrder = Math.min(order, steps + 1 - step);
          const useCorrector = step !== steps;
          const res = await multistepUpdate(x, modelPrev, tPrev, t, stepOrder, useCorrector, variant, dataPrediction);
          x = res.x;
          for (let k = 0; k < order - 1; k++) {
            tPrev[k] = tPrev[k + 1];
            modelPrev[k] = modelPrev[k + 1];
          }
          tPrev[tPrev.length - 1] = t;
          if (step < steps) modelPrev[modelPrev.length - 1] = res.modelT ?? (await dataPrediction(x, t));
        }
      }
      callback?.(stepIndex, modelPrev[modelPrev.length - 1], x);
    }
    const alphaEnd = alphaOf(timesteps[timesteps.length - 1]);
    const out = new Float32Array(x.length);
    for (let j = 0; j < x.length; j++) out[j] = x[j] / alphaEnd;
    return out;
  };
}

export const sampleUniPc: SamplerFunction = createUniPcSampler('bh1');
export const sampleUniPcBh2: SamplerFunction = createUniPcSampler('bh2');
