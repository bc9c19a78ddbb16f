// Deterministic random weights for any graph: benchmarks and shape tests run real-sized models
// without checkpoints. Norm scales are 1 + N(0, std) as in the golden models, so activations keep scale.
import { createHash } from 'node:crypto';
import { type Graph, numel, DTYPE_BYTES } from './graph.ts';
import type { ParamData, WeightStore } from './weights.ts';

/**
 * `scale: 'fanIn'` gives trained-model-like scales for error measurements (int8, step caching): std
 * 1/√fan_in per weight tensor (activations keep their scale through the layers instead of growing ×2–3 per
 * conv as with the flat std), norm scales 1 ± 0.1, biases ±0.02.
 */
export function randomWeights(g: Graph, opts: { seed?: number; std?: number; scale?: 'flat' | 'fanIn' } = {}): WeightStore {
  const seed = opts.seed ?? 0;
  const fanInScaled = opts.scale === 'fanIn';
  const flatStd = opts.std ?? 0.05;
  const decl = new Map([...g.params].map(([name, id]) => [name, g.values[id]]));
  return {
    get(name): ParamData | undefined {
      const v = decl.get(name);
      if (!v) return undefined;
      const n = numel(v.shape);
      const data = new Float32Array(n);
      let s = (hashSeed(name) ^ seed) >>> 0 || 1;
      const isNormScale = /(norm|ln|layer_norm|layernorm)[^.]*\.weight$/i.test(name) || /norm\d?\.weight$/.test(name);
      const fanIn = v.shape.length >= 2 ? n / v.shape[0] : 0;
      const std = !fanInScaled ? flatStd : isNormScale ? 0.1 : fanIn ? 1 / Math.sqrt(fanIn) : 0.02;
      for (let i = 0; i < n; i++) {
        // xorshift32 → uniform in (-√3, √3)·std: unit-variance uniform is as good as Gaussian here and much cheaper.
        s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
        const u = (s / 4294967296 - 0.5) * 2 * Math.sqrt(3) * std;
        data[i] = isNormScale ? 1 + u : u;
      }
      if (v.dtype !== 'f32') throw new Error(`randomWeights: only f32 params (${name} is ${v.dtype})`);
      return { dtype: 'f32', shape: v.shape, bytes: new Uint8Array(data.buffer, 0, n * DTYPE_BYTES.f32) };
    },
    keys: () => decl.keys(),
    fingerprint: () => createHash('sha256').update(fanInScaled ? `fan-in:${seed}` : `random:${seed}:${flatStd}`).digest('hex'),
  };
}

function hashSeed(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
