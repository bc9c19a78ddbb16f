// The split cross-attention graph, compiled to ONNX and run by onnxruntime, against a direct implementation
// of the formula in plain loops (below, independent of the graph code), at 1e-5. The context has an odd token
// count on purpose: torch.chunk gives the first (foreground) half the extra token.
import { describe, it, expect } from 'vitest';
import { createGraph, type Graph } from '../../graph/graph.ts';
import { memoryWeights } from '../../graph/weights.ts';
import { compile } from '../../runtime/session.ts';
import { splitCrossAttention } from './splitCrossAttention.ts';
import { foregroundSelector } from './splitTransformer.ts';
import { modeFlags, type ColorizeMode } from './modes.ts';

// ---- direct formula -------------------------------------------------------------------------------------

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296 - 0.5;
  };
}

/** rows × W[out,in]ᵀ. */
function linear(x: Float64Array, rows: number, inF: number, w: Float32Array, outF: number): Float64Array {
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) for (let o = 0; o < outF; o++) {
    let s = 0;
    for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
    y[r * outF + o] = s;
  }
  return y;
}

type Weights = Record<string, Float32Array>;

function projection(x: Float64Array, rows: number, inF: number, outF: number, W: Weights, name: string, branch?: 'fg' | 'bg'): Float64Array {
  const y = linear(x, rows, inF, W[`${name}.weight`], outF);
  if (!branch) return y;
  const down = W[`${name}.lora_down_${branch}.weight`];
  const rank = down.length / inF;
  const d = linear(x, rows, inF, down, rank);
  const u = linear(d, rows, rank, W[`${name}.lora_up_${branch}.weight`], outF);
  for (let i = 0; i < y.length; i++) y[i] += u[i];
  return y;
}

/** Multi-head softmax attention for one batch item: q [S,C], k/v [L,C]. */
function attend(q: Float64Array, k: Float64Array, v: Float64Array, S: number, L: number, C: number, heads: number): Float64Array {
  const d = C / heads;
  const out = new Float64Array(S * C);
  const p = new Float64Array(L);
  for (let h = 0; h < heads; h++) for (let s = 0; s < S; s++) {
    let max = -Infinity;
    for (let l = 0; l < L; l++) {
      let dot = 0;
      for (let j = 0; j < d; j++) dot += q[s * C + h * d + j] * k[l * C + h * d + j];
      p[l] = dot / Math.sqrt(d);
      max = Math.max(max, p[l]);
    }
    let z = 0;
    for (let l = 0; l < L; l++) z += (p[l] = Math.exp(p[l] - max));
    for (let j = 0; j < d; j++) {
      let acc = 0;
      for (let l = 0; l < L; l++) acc += (p[l] / z) * v[l * C + h * d + j];
      out[s * C + h * d + j] = acc;
    }
  }
  return out;
}

/** torch bicubic (align_corners=False, A=−0.75) of one [H,W] plane to [oh,ow], taps clamped at the edges. */
function bicubic2d(m: Float32Array, H: number, W: number, oh: number, ow: number): Float64Array {
  const cubic = (x: number) => {
    const a = -0.75;
    x = Math.abs(x);
    if (x <= 1) return (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1;
    if (x < 2) return a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a;
    return 0;
  };
  const out = new Float64Array(oh * ow);
  for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
    const sy = (H / oh) * (oy + 0.5) - 0.5;
    const sx = (W / ow) * (ox + 0.5) - 0.5;
    const iy = Math.floor(sy);
    const ix = Math.floor(sx);
    let acc = 0;
    for (let a = -1; a <= 2; a++) for (let b = -1; b <= 2; b++) {
      const yy = Math.min(Math.max(iy + a, 0), H - 1);
      const xx = Math.min(Math.max(ix + b, 0), W - 1);
      acc += cubic(sy - (iy + a)) * cubic(sx - (ix + b)) * m[yy * W + xx];
    }
    out[oy * ow + ox] = acc;
  }
  return out;
}

interface Case {
  mode: ColorizeMode;
  /** The block carries LoRA (strict mask > ts) or not (mask ≥ ts). */
  loraInjected: boolean;
  B: number; C: number; D: number; heads: number; L1: number; L2: number;
  /** Latent (mask) size and attention map size. */
  mask: [number, number];
  map: [number, number];
  threshold: number;
  scales?: { referenceScale: number; fgScale: number; bgScale: number; mergeScale: number };
}

/** `context` [B, L1+L2, D]: split modes chunk it into halves as torch.chunk(2) (first ⌈L/2⌉ tokens → fg). */
interface Inputs { x: Float32Array; context: Float32Array; mask: Float32Array }

function direct(c: Case, W: Weights, inp: Inputs): Float32Array {
  const { B, C, D, heads, L1, L2 } = c;
  const [H0, W0] = c.mask;
  const [h, w] = c.map;
  const S = h * w;
  const f = modeFlags(c.mode);
  const lora = (b: 'fg' | 'bg') => (c.loraInjected && (b === 'fg' ? f.fgLora : f.bgLora) ? b : undefined);
  const sc = c.scales ?? { referenceScale: 1, fgScale: 1, bgScale: 1, mergeScale: 0 };
  const ts = Math.fround(c.threshold);
  const out = new Float32Array(B * S * C);
  for (let b = 0; b < B; b++) {
    const x = Float64Array.from(inp.x.subarray(b * S * C, (b + 1) * S * C));
    const L = L1 + L2;
    const half = Math.ceil(L / 2);
    const branch = (from: number, to: number, br: 'fg' | 'bg' | undefined) => {
      const ctx = Float64Array.from(inp.context.subarray((b * L + from) * D, (b * L + to) * D));
      const n = to - from;
      const q = projection(x, S, C, C, W, 'to_q', br);
      const k = projection(ctx, n, D, C, W, 'to_k', br);
      const v = projection(ctx, n, D, C, W, 'to_v', br);
      return attend(q, k, v, S, n, C, heads);
    };
    let merged: Float64Array;
    if (!f.split) {
      merged = branch(0, L, lora('fg')).map((v) => v * sc.referenceScale);
    } else {
      const bg = branch(half, L, lora('bg')).map((v) => v * sc.referenceScale * sc.bgScale);
      const fg = branch(0, half, lora('fg')).map((v, i) => v * sc.referenceScale * sc.fgScale * (1 - sc.mergeScale) + bg[i] * sc.mergeScale);
      const m = bicubic2d(inp.mask.subarray(b * H0 * W0, (b + 1) * H0 * W0), H0, W0, h, w);
      merged = new Float64Array(S * C);
      for (let s = 0; s < S; s++) {
        const mv = Math.fround(m[s]);
        const takeFg = c.loraInjected ? mv > ts : !(mv < ts);
        for (let j = 0; j < C; j++) merged[s * C + j] = takeFg ? fg[s * C + j] : bg[s * C + j];
      }
    }
    const y = linear(merged, S, C, W['to_out.0.weight'], C);
    for (let s = 0; s < S; s++) for (let j = 0; j < C; j++) out[b * S * C + s * C + j] = y[s * C + j] + W['to_out.0.bias'][j];
  }
  return out;
}

// ---- graph under test -------------------------------------------------------------------------------------

function buildGraph(c: Case): Graph {
  const g = createGraph('split-attn');
  const [h, w] = c.map;
  const x = g.input('x', 'f32', [c.B, h * w, c.C]);
  const context = g.input('context', 'f32', [c.B, c.L1 + c.L2, c.D]);
  const f = modeFlags(c.mode);
  const lora = { fg: c.loraInjected && f.fgLora, bg: c.loraInjected && f.bgLora };
  const opts = { heads: c.heads, lora, ...(c.scales ?? {}) };
  let selector;
  if (f.split) {
    const mask = g.input('mask', 'f32', [c.B, 1, ...c.mask]);
    selector = foregroundSelector(mask, h, w, c.threshold, c.loraInjected).selector;
  }
  g.output('y', splitCrossAttention(x, context, opts, selector));
  return g;
}

/** Random weights for every parameter the full (fig2fig) graph declares, LoRA included and clearly non-zero. */
function weightsFor(c: Case, seed: number): Weights {
  const g = buildGraph({ ...c, mode: 'fig2fig', loraInjected: true });
  const r = rng(seed);
  const W: Weights = {};
  for (const [name, id] of g.params) {
    const n = g.values[id].shape.reduce((a, b) => a * b, 1);
    const std = name.includes('lora') ? 0.6 : 0.4;
    W[name] = Float32Array.from({ length: n }, () => r() * 2 * std);
  }
  return W;
}

function shapesOf(g: Graph): Record<string, number[]> {
  return Object.fromEntries([...g.params].map(([n, id]) => [n, [...g.values[id].shape]]));
}

async function runGraph(c: Case, W: Weights, inp: Inputs): Promise<Float32Array> {
  const g = buildGraph(c);
  const mine: Weights = {};
  for (const name of g.params.keys()) mine[name] = W[name];
  const model = await compile(g, memoryWeights(mine, shapesOf(g)), { cacheDir: false, threads: 1 });
  try {
    const feeds: Record<string, Float32Array> = { x: inp.x, context: inp.context };
    if (modeFlags(c.mode).split) Object.assign(feeds, { mask: inp.mask });
    return (await model.run(feeds)).y.data as Float32Array;
  } finally {
    await model.release();
  }
}

function inputsFor(c: Case, seed: number, mask?: Float32Array): Inputs {
  const r = rng(seed);
  const [h, w] = c.map;
  const fill = (n: number, s = 2) => Float32Array.from({ length: n }, () => r() * s);
  return {
    x: fill(c.B * h * w * c.C),
    context: fill(c.B * (c.L1 + c.L2) * c.D),
    mask: mask ?? Float32Array.from({ length: c.B * c.mask[0] * c.mask[1] }, () => r() + 0.5),
  };
}

function maxAbs(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const base: Case = { mode: 'fig2fig', loraInjected: true, B: 2, C: 16, D: 12, heads: 2, L1: 5, L2: 6, mask: [8, 12], map: [8, 12], threshold: 0.5 };

describe('split cross-attention vs the direct formula (ONNX, 1e-5)', () => {
  const W = weightsFor(base, 11);

  for (const mode of ['vanilla', 'fg_enhance', 'bg_enhance', 'fig2fig'] as const) {
    it(`${mode}: mask at the attention size`, async () => {
      const c = { ...base, mode };
      const inp = inputsFor(c, 5);
      const err = maxAbs(await runGraph(c, W, inp), direct(c, W, inp));
      console.log(`[split-attn] ${mode} 8×12 max abs err ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-5);
    });
  }

  it('modes give different outputs when the LoRA weights are non-zero', () => {
    const inp = inputsFor(base, 5);
    const out = (mode: ColorizeMode) => direct({ ...base, mode }, W, inp);
    expect(maxAbs(out('vanilla'), out('fg_enhance'))).toBeGreaterThan(1e-2);
    expect(maxAbs(out('fg_enhance'), out('fig2fig'))).toBeGreaterThan(1e-2);
    expect(maxAbs(out('bg_enhance'), out('fig2fig'))).toBeGreaterThan(1e-2);
  });

  for (const [mask, map] of [[[8, 12], [4, 6]], [[8, 12], [2, 3]], [[7, 5], [4, 3]]] as const) {
    it(`fig2fig with the mask resized ${mask.join('×')} → ${map.join('×')} (non-square), scales ≠ 1`, async () => {
      const c: Case = { ...base, mask: [...mask], map: [...map], scales: { referenceScale: 0.8, fgScale: 0.9, bgScale: 1.1, mergeScale: 0.25 } };
      const inp = inputsFor(c, 9);
      const err = maxAbs(await runGraph(c, W, inp), direct(c, W, inp));
      console.log(`[split-attn] resized ${mask.join('×')}→${map.join('×')} max abs err ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-5);
    });
  }

  it('threshold edge: pixels exactly at ts_s go to bg in LoRA blocks (>) and to fg in plain blocks (≥)', async () => {
    const ts = 0.05;
    const n = base.B * 8 * 12;
    // a third exactly at ts (as float32), a third just below, a third just above
    const mask = Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? ts : i % 3 === 1 ? ts - 1e-3 : ts + 1e-3));
    expect(mask[0]).toBe(Math.fround(ts));
    for (const loraInjected of [true, false]) {
      const c: Case = { ...base, threshold: ts, loraInjected };
      const inp = inputsFor(c, 21, mask);
      const got = await runGraph(c, W, inp);
      const err = maxAbs(got, direct(c, W, inp));
      console.log(`[split-attn] threshold edge (${loraInjected ? '>' : '≥'}) max abs err ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-5);
      // The edge pixels really do pick the branch: all-fg and all-bg masks give different rows there.
      const allFg = direct(c, W, { ...inp, mask: new Float32Array(n).fill(1) });
      const allBg = direct(c, W, { ...inp, mask: new Float32Array(n).fill(0) });
      const edgeRow = 0; // token 0 of batch 0 has mask = ts
      const row = (a: Float32Array) => Array.from(a.subarray(edgeRow * base.C, (edgeRow + 1) * base.C));
      const want = loraInjected ? allBg : allFg;
      const other = loraInjected ? allFg : allBg;
      expect(Math.max(...row(got).map((v, j) => Math.abs(v - row(want)[j])))).toBeLessThan(1e-5);
      expect(Math.max(...row(got).map((v, j) => Math.abs(v - row(other)[j])))).toBeGreaterThan(1e-3);
    }
  });

  it('a bad mask shape or a context too short to split is a clear error', () => {
    const g = createGraph();
    const x = g.input('x', 'f32', [1, 6, 16]);
    expect(() => foregroundSelector(g.input('m', 'f32', [1, 2, 2, 3]), 2, 3, 0.5, true)).toThrow(/sketch mask must be \[B,1,h,w\]/);
    const sel = foregroundSelector(g.input('m2', 'f32', [1, 1, 2, 3]), 2, 3, 0.5, true).selector;
    const one = g.input('one', 'f32', [1, 1, 12]);
    expect(() => splitCrossAttention(x, one, { heads: 2, lora: { fg: true, bg: true } }, sel)).toThrow(/at least 2 tokens/);
    const wrong = foregroundSelector(g.input('m3', 'f32', [1, 1, 2, 2]), 2, 2, 0.5, true).selector;
    expect(() => splitCrossAttention(x, g.input('c', 'f32', [1, 4, 12]), { heads: 2, lora: { fg: true, bg: true } }, wrong)).toThrow(/mask selector must be/);
  });
});
