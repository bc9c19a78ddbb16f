// Noise schedules shared by the diffusers-style schedulers (diffusers v0.21.0 semantics, bit-exact where it can be).
//
//   linear:            β_i = linspace(β_start, β_end, T)                     (float32, as torch.linspace)
//   scaled_linear:     β_i = linspace(√β_start, √β_end, T)²                  (float32)
//   squaredcos_cap_v2: β_i = min(1 − ᾱ(t_{i+1})/ᾱ(t_i), 0.999), ᾱ(t) = cos²((t + 0.008)/1.008 · π/2)  (float64 → float32)
//   ᾱ_t = Π_{s≤t} (1 − β_s)    (float32 inputs, product accumulated in float64, stored float32: torch's CPU cumprod)
//   σ_t = √((1 − ᾱ_t)/ᾱ_t)     α_t = √ᾱ_t,  σ̂_t = √(1 − ᾱ_t),  λ_t = log α_t − log σ̂_t
//   Karras (ρ = 7):  σ_i = (σ_a^{1/ρ} + i/(N−1)·(σ_b^{1/ρ} − σ_a^{1/ρ}))^ρ
import { z } from 'zod';

const f32 = Math.fround;

/** float32 fused multiply-add a·b + c: the float32 product is exact in float64, so one rounding remains. */
function fma32(a: number, b: number, c: number): number {
  return f32(a * b + c);
}

/**
 * torch.linspace(start, end, steps, dtype=float32) on CPU, bit-exact. torch fills from both ends
 * (start + step·i below the halfway point, end − step·(steps−1−i) above) and its AVX2 kernel writes
 * 8 lanes at a time as base + step·lane, two vectors per iteration, the tail element-wise.
 * The golden alphas_cumprod of both linear and scaled_linear match this bit for bit.
 */
export function torchLinspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = f32(start);
    return out;
  }
  const s = f32(start);
  const e = f32(end);
  const step = f32(f32(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  const at = (i: number): number => (i < halfway ? fma32(step, i, s) : fma32(-step, steps - i - 1, e));
  const lanes = 8;
  const vectorEnd = steps - (steps % (2 * lanes));
  for (let base = 0; base < vectorEnd; base += lanes) {
    const b = at(base);
    for (let j = 0; j < lanes; j++) out[base + j] = fma32(step, j, b);
  }
  for (let i = vectorEnd; i < steps; i++) out[i] = at(i);
  return out;
}

export const betaScheduleSchema = z.enum(['linear', 'scaled_linear', 'squaredcos_cap_v2']);
export type BetaSchedule = z.infer<typeof betaScheduleSchema>;

/** The config keys every scheduler here shares, with diffusers' defaults. */
export const noiseScheduleConfigShape = {
  num_train_timesteps: z.number().int().positive().default(1000),
  beta_start: z.number().positive().default(0.0001),
  beta_end: z.number().positive().default(0.02),
  beta_schedule: betaScheduleSchema.default('linear'),
  trained_betas: z.array(z.number()).nullable().default(null),
  prediction_type: z.enum(['epsilon', 'v_prediction', 'sample']).default('epsilon'),
  timestep_spacing: z.enum(['linspace', 'leading', 'trailing']).default('linspace'),
  steps_offset: z.number().int().nonnegative().default(0),
};

export interface BetaConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: BetaSchedule;
  trained_betas: number[] | null;
}

/** β_0..β_{T−1} as float32, exactly as diffusers builds them. */
export function makeBetas(config: BetaConfig): Float32Array {
  const T = config.num_train_timesteps;
  if (config.trained_betas) return Float32Array.from(config.trained_betas);
  switch (config.beta_schedule) {
    case 'linear':
      return torchLinspaceF32(config.beta_start, config.beta_end, T);
    case 'scaled_linear':
      return torchLinspaceF32(Math.sqrt(config.beta_start), Math.sqrt(config.beta_end), T).map((b) => f32(b * b));
    case 'squaredcos_cap_v2':
      return squaredCosBetas(T);
  }
}

/** Glide's cosine schedule, computed in float64 then stored float32 (diffusers' betas_for_alpha_bar). */
function squaredCosBetas(T: number, maxBeta = 0.999): Float32Array {
  const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2;
  const out = new Float32Array(T);
  for (let i = 0; i < T; i++) out[i] = Math.min(1 - alphaBar((i + 1) / T) / alphaBar(i / T), maxBeta);
  return out;
}

/** ᾱ_t: float32 factors 1 − β, accumulated in float64 (torch CPU cumprod), stored float32. */
export function alphasCumprod(betas: Float32Array): Float32Array {
  const out = new Float32Array(betas.length);
  let acc = 1;
  for (let i = 0; i < betas.length; i++) {
    acc *= f32(1 - betas[i]);
    out[i] = acc;
  }
  return out;
}

/**
 * Rescales betas to zero terminal SNR (arXiv 2305.08891 Alg. 1), float32 like diffusers:
 * √ᾱ ← (√ᾱ − √ᾱ_T)·√ᾱ_0/(√ᾱ_0 − √ᾱ_T), then back to betas.
 */
export function rescaleZeroTerminalSnr(betas: Float32Array): Float32Array {
  const ac = alphasCumprod(betas);
  const sqrtAc = ac.map((a) => f32(Math.sqrt(a)));
  const first = sqrtAc[0];
  const last = sqrtAc[sqrtAc.length - 1];
  const scale = f32(first / f32(first - last));
  const bar = sqrtAc.map((s) => {
    const v = f32(f32(s - last) * scale);
    return f32(v * v);
  });
  const out = new Float32Array(betas.length);
  out[0] = f32(1 - bar[0]);
  for (let i = 1; i < bar.length; i++) out[i] = f32(1 - f32(bar[i] / bar[i - 1]));
  return out;
}

/** σ_t = √((1 − ᾱ_t)/ᾱ_t) per train step, float32 (torch ops on the float32 ᾱ). */
export function trainSigmas(alphasCumprod: Float32Array): Float32Array {
  return alphasCumprod.map((a) => f32(Math.sqrt(f32(f32(1 - a) / a))));
}

/** α_t = √ᾱ_t, σ_t = √(1 − ᾱ_t), λ_t = log α_t − log σ_t (float32), as UniPC and DPM-Solver use them. */
export interface VpCoefficients {
  alphaT: Float32Array;
  sigmaT: Float32Array;
  lambdaT: Float32Array;
}

export function vpCoefficients(alphasCumprod: Float32Array): VpCoefficients {
  const alphaT = alphasCumprod.map((a) => f32(Math.sqrt(a)));
  const sigmaT = alphasCumprod.map((a) => f32(Math.sqrt(f32(1 - a))));
  const lambdaT = new Float32Array(alphaT.length);
  for (let i = 0; i < alphaT.length; i++) lambdaT[i] = f32(f32(Math.log(alphaT[i])) - f32(Math.log(sigmaT[i])));
  return { alphaT, sigmaT, lambdaT };
}

/** numpy's round(): half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

/** np.linspace(start, stop, num) in float64: start + i·step, the last value exactly stop. */
export function numpyLinspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  if (num > 1) out[num - 1] = stop;
  else if (num === 1) out[0] = start;
  return out;
}

/** np.arange(start, stop, step) for a float step: numpy fills start + i·delta with delta = (start + step) − start. */
export function numpyArange(start: number, stop: number, step: number): Float64Array {
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const out = new Float64Array(n);
  const delta = start + step - start;
  for (let i = 0; i < n; i++) out[i] = start + i * delta;
  return out;
}

export type TimestepSpacing = 'linspace' | 'leading' | 'trailing';

/**
 * Timesteps of the multistep solvers (UniPC, DPM-Solver), descending int:
 *   linspace: round(linspace(0, last−1, N+1))[::-1][:-1]
 *   leading:  round(arange(N+1)·(last // (N+1)))[::-1][:-1] + steps_offset
 *   trailing: round(arange(last, 0, −T/N)) − 1
 * `last` is T except for DPM-Solver's lambda_min_clipped.
 */
export function multistepTimesteps(spacing: TimestepSpacing, T: number, N: number, stepsOffset: number, last = T): number[] {
  switch (spacing) {
    case 'linspace':
      return Array.from(numpyLinspace(0, last - 1, N + 1), roundHalfEven).reverse().slice(0, N);
    case 'leading': {
      const ratio = Math.floor(last / (N + 1));
      return Array.from({ length: N + 1 }, (_, i) => i * ratio).reverse().slice(0, N).map((t) => t + stepsOffset);
    }
    case 'trailing':
      return Array.from(numpyArange(last, 0, -T / N), (t) => roundHalfEven(t) - 1);
  }
}

/**
 * Timesteps of the single-step schedulers (DDIM, Euler), descending, N of them:
 *   linspace: linspace(0, T−1, N)[::-1]           (DDIM rounds to int, Euler keeps float32)
 *   leading:  round(arange(N)·(T // N))[::-1] + steps_offset
 *   trailing: round(arange(T, 0, −T/N)) − 1
 */
export function singleStepTimesteps(spacing: TimestepSpacing, T: number, N: number, stepsOffset: number, roundLinspace: boolean): number[] {
  switch (spacing) {
    case 'linspace':
      return Array.from(numpyLinspace(0, T - 1, N), (t) => (roundLinspace ? roundHalfEven(t) : f32(t))).reverse();
    case 'leading': {
      const ratio = Math.floor(T / N);
      return Array.from({ length: N }, (_, i) => i * ratio + stepsOffset).reverse();
    }
    case 'trailing':
      return Array.from(numpyArange(T, 0, -T / N), (t) => roundHalfEven(t) - 1);
  }
}

/**
 * Karras et al. (2022) eq. 5 with ρ = 7, float64: σ_i = (a^{1/ρ} + i/(N−1)(b^{1/ρ} − a^{1/ρ}))^ρ.
 * diffusers v0.21 passes the ascending train sigmas, so a = σ(t=0) and b = σ(t=T−1): the result ascends.
 */
export function karrasSigmas(from: number, to: number, N: number, rho = 7): Float64Array {
  const ramp = numpyLinspace(0, 1, N);
  const a = from ** (1 / rho);
  const b = to ** (1 / rho);
  return ramp.map((r) => (a + r * (b - a)) ** rho);
}

/**
 * Fractional train timestep of a sigma by linear interpolation in log σ (diffusers' _sigma_to_t).
 * logSigmas are float32 (np.log of a float32 array), so the bracket search runs in float32.
 */
export function sigmaToT(sigma: number, logSigmas: Float32Array): number {
  const logSigma = Math.log(sigma);
  const ls32 = f32(logSigma);
  let low = 0;
  for (let i = 0; i < logSigmas.length; i++) if (ls32 - logSigmas[i] >= 0) low = i;
  low = Math.min(low, logSigmas.length - 2);
  const high = low + 1;
  const lo = logSigmas[low];
  const hi = logSigmas[high];
  const w = Math.min(1, Math.max(0, (lo - logSigma) / f32(lo - hi)));
  return (1 - w) * low + w * high;
}

/** Karras timesteps for the multistep solvers: the rounded t of each Karras σ, descending (v0.21). */
export function karrasTimesteps(sigmas: Float32Array, N: number): { timesteps: number[]; sigmas: Float64Array } {
  const logSigmas = sigmas.map((s) => f32(Math.log(s)));
  const k = karrasSigmas(sigmas[0], sigmas[sigmas.length - 1], N);
  const timesteps = Array.from(k, (s) => roundHalfEven(sigmaToT(s, logSigmas))).reverse();
  return { timesteps, sigmas: k };
}

/** np.unique(..., return_index) then sorted indices: drops repeats, keeps first occurrences in order. */
export function uniqueInOrder(ts: number[]): number[] {
  const seen = new Set<number>();
  return ts.filter((t) => (seen.has(t) ? false : (seen.add(t), true)));
}
