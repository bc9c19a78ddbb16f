// ComfyUI's sigma schedules (comfy/samplers.py SCHEDULER_HANDLERS, k_diffusion get_sigmas_*).
// Each returns a float32 schedule that ends with 0 (steps + 1 values, except ddim_uniform and beta
// whose length depends on the grid, see below). Formulas:
//   normal       t = linspace(999, 0, steps) → σ(t) log-interpolated, then 0
//   sgm_uniform  t = linspace(999, 0, steps + 1)[:-1] → σ(t), then 0
//   simple       σ_grid[−(1 + ⌊i·1000/steps⌋)] for i < steps, then 0
//   ddim_uniform σ_grid[1 + k·⌊1000/steps⌋] for every such index < 1000, reversed, then 0
//   karras       (σ_max^{1/ρ} + ramp·(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ, ρ = 7, ramp = linspace(0, 1, steps)
//   exponential  exp(linspace(log σ_max, log σ_min, steps)), then 0
//   beta         σ_grid[rint(999·BetaPPF(1 − i/steps; 0.6, 0.6))], consecutive duplicates dropped, then 0
import { expF32, f32, linspaceF32, powF32 } from './float32.ts';
import { inverseRegularizedIncompleteBeta } from './incompleteBeta.ts';
import type { ModelSamplingDiscrete } from './modelSamplingDiscrete.ts';

export const COMFY_SCHEDULERS = ['simple', 'sgm_uniform', 'karras', 'exponential', 'ddim_uniform', 'beta', 'normal'] as const;
export type ComfyScheduler = (typeof COMFY_SCHEDULERS)[number];

function withZero(values: ArrayLike<number>): Float32Array {
  const out = new Float32Array(values.length + 1);
  out.set(values);
  return out;
}

export function normalSchedule(ms: ModelSamplingDiscrete, steps: number, sgm = false): Float32Array {
  const start = ms.timestep(ms.sigmaMax);
  const end = ms.timestep(ms.sigmaMin);
  let appendZero = true;
  let ts: Float32Array;
  if (sgm) {
    ts = linspaceF32(start, end, steps + 1).subarray(0, steps);
  } else {
    let n = steps;
    // A schedule whose last grid sigma is already ~0 uses one more point and no trailing zero.
    if (Math.abs(ms.sigma(end)) <= 1e-5) { n += 1; appendZero = false; }
    ts = linspaceF32(start, end, n);
  }
  const sigs = Array.from(ts, (t) => ms.sigma(t));
  return appendZero ? withZero(sigs) : Float32Array.from(sigs);
}

export function simpleSchedule(ms: ModelSamplingDiscrete, steps: number): Float32Array {
  const n = ms.sigmas.length;
  const ss = n / steps;
  const sigs: number[] = [];
  for (let i = 0; i < steps; i++) sigs.push(ms.sigmas[n - 1 - Math.trunc(i * ss)]);
  return withZero(sigs);
}

export function ddimUniformSchedule(ms: ModelSamplingDiscrete, steps: number): Float32Array {
  const n = ms.sigmas.length;
  let s = steps;
  const sigs: number[] = [];
  const gridZero = Math.abs(ms.sigmas[1]) <= 1e-5;
  if (gridZero) s += 1; else sigs.push(0);
  const stride = Math.max(Math.floor(n / s), 1);
  for (let x = 1; x < n; x += stride) sigs.push(ms.sigmas[x]);
  return Float32Array.from(sigs.reverse());
}

export function karrasSchedule(n: number, sigmaMin: number, sigmaMax: number, rho = 7): Float32Array {
  const ramp = linspaceF32(0, 1, n);
  const minInvRho = sigmaMin ** (1 / rho);
  const maxInvRho = sigmaMax ** (1 / rho);
  const span = f32(minInvRho - maxInvRho);
  const base = f32(maxInvRho);
  return withZero(Array.from(ramp, (r) => powF32(f32(base + f32(r * span)), rho)));
}

export function exponentialSchedule(n: number, sigmaMin: number, sigmaMax: number): Float32Array {
  return withZero(Array.from(linspaceF32(Math.log(sigmaMax), Math.log(sigmaMin), n), expF32));
}

export function betaSchedule(ms: ModelSamplingDiscrete, steps: number, alpha = 0.6, beta = 0.6): Float32Array {
  const total = ms.sigmas.length - 1;
  const sigs: number[] = [];
  let last = -1;
  for (let i = 0; i < steps; i++) {
    const p = 1 - i / steps; // 1 − numpy.linspace(0, 1, steps, endpoint=False)
    const t = roundHalfEven(inverseRegularizedIncompleteBeta(p, alpha, beta) * total);
    if (t !== last) sigs.push(ms.sigmas[t]);
    last = t;
  }
  return withZero(sigs);
}

/** numpy.rint: round half to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** `comfy.samplers.calculate_sigmas`: the schedule for a scheduler name. */
export function calculateSigmas(ms: ModelSamplingDiscrete, scheduler: string, steps: number): Float32Array {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a positive integer (got ${steps})`);
  switch (scheduler as ComfyScheduler) {
    case 'normal': return normalSchedule(ms, steps);
    case 'sgm_uniform': return normalSchedule(ms, steps, true);
    case 'simple': return simpleSchedule(ms, steps);
    case 'ddim_uniform': return ddimUniformSchedule(ms, steps);
    case 'karras': return karrasSchedule(steps, ms.sigmaMin, ms.sigmaMax);
    case 'exponential': return exponentialSchedule(steps, ms.sigmaMin, ms.sigmaMax);
    case 'beta': return betaSchedule(ms, steps);
    default:
      throw new Error(`unknown scheduler "${scheduler}" (expected one of ${COMFY_SCHEDULERS.join(', ')})`);
  }
}
