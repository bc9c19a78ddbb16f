// Random weights with trained-model-like scales for error measurements: each weight tensor has std
// 1/√fan_in (activations keep their scale through the layers instead of growing ×2–3 per conv as with
// randomWeights' flat 0.05), norm scales 1 ± 0.1, biases ±0.02. Deterministic per parameter name.
import { createHash } from 'node:crypto';
import { type Graph, numel } from '../src/graph/graph.ts';
import type { ParamData, WeightStore } from '../src/graph/weights.ts';

export function fanInWeights(g: Graph, seed = 1): WeightStore {
  const decl = new Map([...g.params].map(([name, id]) => [name, g.values[id]]));
  return {
    get(name): ParamData | undefined {
      const v = decl.get(name);
      if (!v) return undefined;
      const n = numel(v.shape);
      const data = new Float32Array(n);
      let s = (hash(name) ^ seed) >>> 0 || 1;
      const isNorm = /norm[^.]*\.weight$/i.test(name) || /(^|\.)ln[^.]*\.weight$/.test(name);
      const fanIn = v.shape.length >= 2 ? n / v.shape[0] : 0;
      const std = isNorm ? 0.1 : fanIn ? 1 / Math.sqrt(fanIn) : 0.02;
      for (let i = 0; i < n; i++) {
        s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
        const u = (s / 4294967296 - 0.5) * 2 * Math.sqrt(3) * std;
        data[i] = isNorm ? 1 + u : u;
      }
      return { dtype: 'f32', shape: v.shape, bytes: new Uint8Array(data.buffer) };
    },
    keys: () => decl.keys(),
    fingerprint: () => createHash('sha256').update(`fan-in:${seed}`).digest('hex'),
  };
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

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
