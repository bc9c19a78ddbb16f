// int8 lowering (graph/int8Lowering.ts) run through onnxruntime: each quantised layer kind stays close
// to its fp32 result (error of per-tensor u8 activations × per-channel int8 weights), layers below the
// channel threshold stay fp32, and precision 'fp32' emits exactly the bytes it emitted before int8.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGraph, type Graph } from '../graph/graph.ts';
import * as nn from '../graph/nn.ts';
import * as op from '../graph/ops.ts';
import { randomWeights } from '../graph/randomWeights.ts';
import { emitOnnx } from '../graph/emitOnnx.ts';
import { quantizeWeight } from '../graph/int8Lowering.ts';
import { compile } from './session.ts';

function relError(y: Float32Array, ref: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < y.length; i++) { num += (y[i] - ref[i]) ** 2; den += ref[i] ** 2; }
  return Math.sqrt(num / den);
}

function input(n: number, seed: number): Float32Array {
  // A unit-scale signal with a positive tail, like SiLU(GroupNorm(x)) activations.
  return Float32Array.from({ length: n }, (_, i) => { const v = Math.sin(i * 0.37 + seed) * 1.5 + Math.cos(i * 0.011 * seed); return v > 0 ? v : 0.2 * v; });
}

async function runBoth(g: Graph, minChannels = 8, onlyNormalisedInputs = false, fp32BeforeDownsample = false): Promise<{ fp32: Float32Array; int8: Float32Array; int8Params: number }> {
  const int8 = { minChannels, onlyNormalisedInputs, fp32BeforeDownsample };
  const w = randomWeights(g, { std: 0.1 });
  const feeds: Record<string, Float32Array> = {};
  for (const id of g.inputs) feeds[g.values[id].name!] = input(g.values[id].shape.reduce((a, b) => a * b, 1), id + 1);
  const out: Float32Array[] = [];
  for (const precision of ['fp32', 'int8'] as const) {
    const m = await compile(g, w, { cacheDir: false, precision, int8 });
    out.push((await m.run(feeds)).y.data as Float32Array);
    await m.release();
  }
  const report = { f16Params: 0, int8Params: 0 };
  emitOnnx(g, w, { precision: 'int8', int8, report });
  return { fp32: out[0], int8: out[1], int8Params: report.int8Params };
}

describe('int8 lowering', () => {
  it('quantises a weight per output channel into the im2col layout', () => {
    // w[o, c, i, j] = (o+1)·(c − i + 2j): channel o's largest |w| is 127 steps of its own scale.
    const [o, c, k] = [3, 2, 2];
    const w = new Float32Array(o * c * k * k);
    for (let a = 0; a < o; a++) for (let b = 0; b < c; b++) for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) w[((a * c + b) * k + i) * k + j] = (a + 1) * (b - i + 2 * j);
    const q = quantizeWeight(w, [o, c, k, k], 'conv');
    expect([q.k, q.n]).toEqual([c * k * k, o]);
    for (let a = 0; a < o; a++) {
      expect(q.scale[a]).toBeCloseTo(((a + 1) * 3) / 127, 6);
      for (let b = 0; b < c; b++) for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
        const back = q.q[((i * k + j) * c + b) * o + a] * q.scale[a];
        expect(Math.abs(back - w[((a * c + b) * k + i) * k + j])).toBeLessThanOrEqual(q.scale[a] / 2 + 1e-6);
      }
    }
  });

  it('3×3 conv (padded), strided conv and 1×1 conv stay within 3 % of fp32', async () => {
    const g = createGraph();
    const x = g.input('x', 'f32', [2, 16, 12, 10]);
    const a = nn.conv2d(x, 'a', 16, 24, 3);
    const b = nn.conv2d(nn.silu(a), 'b', 24, 24, 3, { stride: 2, padding: [0, 0, 1, 1] });
    const c = nn.conv2d(b, 'c', 24, 16, 1);
    g.output('y', c);
    const r = await runBoth(g);
    expect(r.int8Params).toBe(3);
    const err = relError(r.int8, r.fp32);
    expect(err).toBeGreaterThan(0); // really quantised
    expect(err).toBeLessThan(0.03);
  });

  it('Linear on a [B, S, D] input and a weight shared by two Linears', async () => {
    const g = createGraph();
    const x = g.input('x', 'f32', [2, 7, 32]);
    const h = nn.linear(x, 'fc1', 32, 48);
    const again = nn.linear(op.mul(x, 0.5), 'fc1', 32, 48); // the same parameters, a second Linear
    g.output('y', nn.linear(op.mul(nn.silu(h), again), 'fc2', 48, 32));
    const r = await runBoth(g);
    expect(r.int8Params).toBe(2);
    const err = relError(r.int8, r.fp32);
    expect(err).toBeGreaterThan(0);
    expect(err).toBeLessThan(0.03);
  });

  it('layers below the channel threshold stay fp32 (first/last convs)', async () => {
    const g = createGraph();
    const x = g.input('x', 'f32', [1, 4, 8, 8]);
    g.output('y', nn.conv2d(nn.conv2d(x, 'conv_in', 4, 16, 3), 'conv_out', 16, 4, 3));
    const r = await runBoth(g);
    expect(r.int8Params).toBe(0);
    expect(r.int8).toEqual(r.fp32);
  });

  it('by default quantises only layers fed by SiLU(GroupNorm), LayerNorm or attention', async () => {
    const g = createGraph();
    const x = g.input('x', 'f32', [1, 16, 8, 8]);
    const gated = nn.conv2d(nn.silu(nn.groupNorm(x, 'norm1', 4)), 'conv1', 16, 16, 3); // quantised
    const plain = nn.conv2d(nn.groupNorm(gated, 'norm2', 4), 'proj_in', 16, 16, 1); // plain GroupNorm: fp32
    const raw = nn.conv2d(op.add(plain, x), 'skip', 16, 16, 3); // residual stream: fp32
    const tokens = op.reshape(op.transpose(raw, [0, 2, 3, 1]), [1, 64, 16]);
    const ln = nn.linear(nn.layerNorm(tokens, 'ln'), 'fc', 16, 16); // quantised
    g.output('y', ln);
    const r = await runBoth(g, 8, true);
    expect(r.int8Params).toBe(2);
    expect(relError(r.int8, r.fp32)).toBeLessThan(0.03);
  });

  it('by default layers before the first strided conv (a UNet\'s first level) stay fp32', async () => {
    const g = createGraph();
    const x = g.input('x', 'f32', [1, 16, 8, 8]);
    const block = (h: typeof x, name: string) => nn.conv2d(nn.silu(nn.groupNorm(h, `${name}_norm`, 4)), name, 16, 16, 3);
    const first = block(x, 'level0'); // before the downsample: fp32
    const down = nn.conv2d(first, 'down', 16, 16, 3, { stride: 2, padding: [1, 1, 1, 1] }); // residual-stream input: fp32
    g.output('y', block(down, 'level1')); // quantised
    const r = await runBoth(g, 8, true, true);
    expect(r.int8Params).toBe(1);
    expect((await runBoth(g, 8, true, false)).int8Params).toBe(2);
    expect(relError(r.int8, r.fp32)).toBeGreaterThan(0);
    expect(relError(r.int8, r.fp32)).toBeLessThan(0.03);
  });

  it("precision 'fp32' emits the same bytes as no precision at all", () => {
    const g = createGraph();
    const x = g.input('x', 'f32', [1, 16, 8, 8]);
    g.output('y', nn.conv2d(x, 'a', 16, 16, 3));
    const w = randomWeights(g);
    expect(Buffer.from(emitOnnx(g, w, { precision: 'fp32' })).equals(Buffer.from(emitOnnx(g, w)))).toBe(true);
    expect(Buffer.from(emitOnnx(g, w, { precision: 'int8', int8: { minChannels: 8, onlyNormalisedInputs: false } })).equals(Buffer.from(emitOnnx(g, w)))).toBe(false);
  });

  it('int8 sessions flush denormals to zero; fp32 keeps them', async () => {
    const g = createGraph();
    const x = g.input('x', 'f32', [1, 1 << 22]);
    g.output('y', op.mul(x, 0.5));
    const feed = new Float32Array(1 << 22).fill(1e-38); // big enough for ORT to split the Mul over its threads; ·0.5 = 5e-39, below the smallest normal float (1.18e-38)
    const run = async (precision: 'fp32' | 'int8') => {
      const m = await compile(g, randomWeights(g), { cacheDir: false, precision });
      const y = (await m.run({ x: feed })).y.data as Float32Array;
      await m.release();
      return y;
    };
    expect(Array.from(new Set(await run('fp32')))).toEqual([Math.fround(5e-39)]);
    // ORT sets flush-to-zero on its pool threads only, so the share of the Mul that runs on the calling
    // thread keeps its denormals (measured: 3/4 of the values flushed with 2 threads).
    const y8 = await run('int8');
    expect(y8.filter((v) => v === 0).length).toBeGreaterThan(y8.length / 4);
    expect(y8.every((v) => v === 0 || v === Math.fround(5e-39))).toBe(true);
  });

  it('int8 and fp32 builds are separate compile-cache entries', async () => {
    const g = createGraph();
    const x = g.input('x', 'f32', [1, 16, 8, 8]);
    g.output('y', nn.conv2d(nn.silu(nn.groupNorm(x, 'norm', 4)), 'conv', 16, 16, 3));
    const w = randomWeights(g);
    const cacheDir = mkdtempSync(join(tmpdir(), 'inkflow-int8-cache-'));
    try {
      const open = async (precision: 'fp32' | 'int8') => {
        const m = await compile(g, w, { cacheDir, precision, int8: { minChannels: 8 } });
        await m.release();
        return m;
      };
      const a = await open('fp32');
      const b = await open('int8');
      expect(b.key).not.toBe(a.key);
      expect([a.fromCache, b.fromCache]).toEqual([false, false]);
      expect((await open('fp32')).fromCache).toBe(true);
      expect((await open('int8')).fromCache).toBe(true);
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});
