// Helpers for the benches that measure the error a lossy mode adds (int8, step caching); their weights
// come from randomWeights(g, { scale: 'fanIn' }).
import type { Graph } from '../src/graph/graph.ts';
import { randomWeights } from '../src/graph/randomWeights.ts';
import type { WeightStore } from '../src/graph/weights.ts';

/** Trained-model-like random weights (std 1/√fan_in); deterministic per parameter name. */
export const fanInWeights = (g: Graph, seed = 1): WeightStore => randomWeights(g, { seed, scale: 'fanIn' });

/** Standard normal values (Box–Muller over xorshift), for latents and text-like contexts. */
export function gaussian(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const u = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return (s + 0.5) / 4294967296; };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

export function relativeError(y: Float32Array, ref: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < y.length; i++) { num += (y[i] - ref[i]) ** 2; den += ref[i] ** 2; }
  return Math.sqrt(num / den);
}
