// Finite-difference checking of training graphs on the float64 reference interpreter: the analytic
// gradients grad() emits against central differences of the loss. Used by the op and block tests.
import type { Graph, Shape } from './graph.ts';
import { interpret, type Feed } from './interpret.ts';
import { LOSS_OUTPUT, gradOutputName, pruneGraph } from './autodiff.ts';
import { memoryWeights, type WeightStore } from './weights.ts';

export interface GradientCheck {
  /** max |analytic − numeric| / max(1, max |numeric|) over every checked element. */
  maxError: number;
  /** Largest |numeric| seen (shows the check was not vacuous). */
  maxGrad: number;
  checked: number;
}

export interface CheckOptions {
  /** Central-difference step (default 1e-6, float64). */
  step?: number;
  /** Check at most this many elements per tensor (spread evenly), default all. */
  perTensor?: number;
}

/**
 * Compares the gradients of `train` (built by grad()) for `wrt` with central differences of its loss,
 * perturbing one element of `values` (feeds of the trainable values, float64) at a time.
 */
export function checkGradients(train: Graph, values: Record<string, Feed>, wrt: readonly string[], weights: WeightStore = memoryWeights({}), opts: CheckOptions = {}): GradientCheck {
  const h = opts.step ?? 1e-6;
  const analytic = interpret(train, values, weights, { precision: 'f64' });
  const lossOnly = pruneGraph(train, [LOSS_OUTPUT]);
  const feeds: Record<string, Feed> = {};
  for (const [k, v] of Object.entries(values)) feeds[k] = { shape: v.shape, data: v.data instanceof BigInt64Array ? v.data : Float64Array.from(v.data) };
  const lossAt = () => interpret(lossOnly, feeds, weights, { precision: 'f64' })[LOSS_OUTPUT].data[0];
  let maxError = 0;
  let maxGrad = 0;
  let checked = 0;
  for (const name of wrt) {
    const x = feeds[name].data as Float64Array;
    const got = analytic[gradOutputName(name)].data;
    const picks = opts.perTensor && opts.perTensor < x.length ? Array.from({ length: opts.perTensor }, (_, i) => Math.floor((i * x.length) / opts.perTensor!)) : x.keys();
    for (const i of picks) {
      const keep = x[i];
      x[i] = keep + h;
      const up = lossAt();
      x[i] = keep - h;
      const down = lossAt();
      x[i] = keep;
      const numeric = (up - down) / (2 * h);
      maxGrad = Math.max(maxGrad, Math.abs(numeric));
      maxError = Math.max(maxError, Math.abs(got[i] - numeric));
      checked++;
    }
  }
  return { maxError: maxError / Math.max(1, maxGrad), maxGrad, checked };
}

/** Directional check for big graphs: ⟨∇L, v⟩ against (L(θ+hv) − L(θ−hv))/2h for a random direction v. */
export function checkDirectional(train: Graph, values: Record<string, Feed>, wrt: readonly string[], weights: WeightStore, seed = 1, h = 1e-5): { analytic: number; numeric: number; relError: number } {
  const analyticOut = interpret(train, values, weights, { precision: 'f64' });
  const lossOnly = pruneGraph(train, [LOSS_OUTPUT]);
  let s = seed >>> 0 || 1;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  const dirs: Record<string, Float64Array> = {};
  let analytic = 0;
  for (const name of wrt) {
    const n = (values[name].data as ArrayLike<number>).length;
    dirs[name] = Float64Array.from({ length: n }, rand);
    const g = analyticOut[gradOutputName(name)].data;
    for (let i = 0; i < n; i++) analytic += g[i] * dirs[name][i];
  }
  const at = (sign: number) => {
    const feeds: Record<string, Feed> = { ...values };
    for (const name of wrt) {
      const base = values[name].data as ArrayLike<number>;
      feeds[name] = { shape: values[name].shape as Shape, data: Float64Array.from(base, (v, i) => v + sign * h * dirs[name][i]) };
    }
    return interpret(lossOnly, feeds, weights, { precision: 'f64' })[LOSS_OUTPUT].data[0];
  };
  const numeric = (at(1) - at(-1)) / (2 * h);
  return { analytic, numeric, relError: Math.abs(analytic - numeric) / Math.max(1e-12, Math.abs(numeric)) };
}
