// The background path (threshold embedder + ClusterTransformer) against a direct host implementation of the
// original's formulas on tiny random weights, and its parameter shapes at the released size.
import { describe, expect, it } from 'vitest';
import { numel } from '../../graph/graph.ts';
import { memoryWeights } from '../../graph/weights.ts';
import { compile } from '../../runtime/session.ts';
import { backgroundEncoderShape, buildReferenceContextGraph, thresholdFeatures, type BackgroundEncoderShape } from './referenceConditioning.ts';

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296 - 0.5;
  };
}

type M = number[][];
const linear = (x: M, w: Float32Array, outF: number, b?: Float32Array): M => x.map((row) => Array.from({ length: outF }, (_, o) => row.reduce((s, v, i) => s + v * w[o * row.length + i], b ? b[o] : 0)));
const layerNorm = (x: M, w: Float32Array, b: Float32Array): M => x.map((row) => {
  const mean = row.reduce((s, v) => s + v, 0) / row.length;
  const vr = row.reduce((s, v) => s + (v - mean) ** 2, 0) / row.length;
  return row.map((v, i) => ((v - mean) / Math.sqrt(vr + 1e-5)) * w[i] + b[i]);
});
const silu = (x: M): M => x.map((r) => r.map((v) => v / (1 + Math.exp(-v))));
const add = (a: M, b: M): M => a.map((r, i) => r.map((v, j) => v + b[i][j]));
function attention(q: M, k: M, v: M, heads: number): M {
  const dh = q[0].length / heads;
  return q.map((qi) => {
    const out = new Array(qi.length).fill(0);
    for (let h = 0; h < heads; h++) {
      const s = k.map((kj) => { let d = 0; for (let c = 0; c < dh; c++) d += qi[h * dh + c] * kj[h * dh + c]; return d / Math.sqrt(dh); });
      const m = Math.max(...s);
      const e = s.map((x) => Math.exp(x - m));
      const z = e.reduce((a, b) => a + b, 0);
      v.forEach((vj, j) => { for (let c = 0; c < dh; c++) out[h * dh + c] += (e[j] / z) * vj[h * dh + c]; });
    }
    return out;
  });
}

describe('ColorizeDiffusion background path', () => {
  it('threshold features are timestep_embedding: [cos(t·f_k), sin(t·f_k)], f_k = 10000^(−k/half)', () => {
    const f = thresholdFeatures([0.5, 0.05], 8);
    for (let k = 0; k < 4; k++) {
      const fk = Math.exp((-Math.log(10000) * k) / 4);
      expect(f[k]).toBeCloseTo(Math.cos(0.5 * fk), 6);
      expect(f[4 + k]).toBeCloseTo(Math.sin(0.5 * fk), 6);
      expect(f[8 + k]).toBeCloseTo(Math.cos(0.05 * fk), 6);
    }
  });

  it('tokens + th(ts_s) and transformer(bg + th(ts_r)) (64-wide heads) match a direct implementation', async () => {
    const shape: BackgroundEncoderShape = { dim: 16, queries: 5, layers: 2, hidden: 32, thresholdFeatures: 8, heads: 2, inner: 128 };
    const L = 6;
    const g = buildReferenceContextGraph(shape, 1, L, L);
    const r = rng(21);
    const w: Record<string, Float32Array> = {};
    const shapes: Record<string, number[]> = {};
    for (const [name, id] of g.params) {
      const s = [...g.values[id].shape];
      const isScale = /\.[01]\.weight$/.test(name) && s.length === 1;
      w[name] = Float32Array.from({ length: numel(s) }, () => (isScale ? 1 : 0) + r() * 0.8);
      shapes[name] = s;
    }
    const store = memoryWeights(w, shapes);
    expect(backgroundEncoderShape(store, 2)).toEqual(shape);
    const tokens = Float32Array.from({ length: L * 16 }, () => r() * 2);
    const bg = Float32Array.from({ length: L * 16 }, () => r() * 2);
    const feats = thresholdFeatures([0.5, 0.05], 8);
    const m = await compile(g, store, { cacheDir: false, threads: 1 });
    const out = await m.run({ tokens, background_tokens: bg, threshold_features: feats });
    const got = Float32Array.from([...(out.foreground.data as Float32Array), ...(out.background_output.data as Float32Array)]);
    await m.release();

    const rows = (a: Float32Array, n: number, d: number): M => Array.from({ length: n }, (_, i) => Array.from(a.subarray(i * d, (i + 1) * d)));
    const p = (n: string) => w[n];
    const th = linear(silu(linear(rows(feats, 2, 8), p('thresh_embedder.embed_layer.0.weight'), 16, p('thresh_embedder.embed_layer.0.bias'))), p('thresh_embedder.embed_layer.2.weight'), 16, p('thresh_embedder.embed_layer.2.bias'));
    const e = rows(bg, L, 16).map((row) => row.map((v, j) => v + th[0][j]));
    let x = rows(p('transformer.embedding'), 5, 16);
    for (let i = 0; i < 2; i++) {
      const q = (n: string) => p(`transformer.layers.${i}.${n}`);
      const n0 = layerNorm(x, q('0.weight'), q('0.bias'));
      const a = attention(linear(n0, q('2.to_q.weight'), 128), linear(e, q('2.to_k.weight'), 128), linear(e, q('2.to_v.weight'), 128), 2);
      x = add(x, linear(a, q('2.to_out.0.weight'), 16, q('2.to_out.0.bias')));
      x = add(x, linear(silu(linear(layerNorm(x, q('1.weight'), q('1.bias')), q('3.0.weight'), 32, q('3.0.bias'))), q('3.2.weight'), 16, q('3.2.bias')));
    }
    const want = [...rows(tokens, L, 16).map((row) => row.map((v, j) => v + th[1][j])), ...x].flat();
    expect(got.length).toBe(want.length);
    const err = want.reduce((mx, v, i) => Math.max(mx, Math.abs(v - got[i])), 0);
    console.log(`[background path] graph vs direct formula max abs diff ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-4);
  });

  it('released size: 6 layers × 16 heads over 1024-wide tokens, 256 queries, 256 threshold features', () => {
    const shape: BackgroundEncoderShape = { dim: 1024, queries: 256, layers: 6, hidden: 4096, thresholdFeatures: 256, heads: 16, inner: 1024 };
    const g = buildReferenceContextGraph(shape, 1, 256, 256);
    const s = (n: string) => [...g.values[g.params.get(n)!].shape];
    expect(s('transformer.embedding')).toEqual([256, 1024]);
    expect(s('transformer.layers.5.2.to_k.weight')).toEqual([1024, 1024]);
    expect(s('transformer.layers.5.3.0.weight')).toEqual([4096, 1024]);
    expect(s('thresh_embedder.embed_layer.0.weight')).toEqual([1024, 256]);
    expect(s('transformer.layers.5.1.weight')).toEqual([1024]);
    expect(g.params.has('transformer.layers.0.2.to_q.bias')).toBe(false);
    const out = (n: string) => [...g.values[g.outputs.find((o) => o.name === n)!.id].shape];
    expect(out('background_output')).toEqual([1, 256, 1024]);
    expect(out('foreground')).toEqual([1, 256, 1024]);
    expect(out('threshold_embedding')).toEqual([2, 1, 1024]);
  });
});
