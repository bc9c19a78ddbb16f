// Runtime: the compile cache skips emission on the second load, external data loads by path,
// bad feeds and an absent CUDA provider give clear errors.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync, readdirSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGraph } from '../graph/graph.ts';
import * as nn from '../graph/nn.ts';
import { memoryWeights, type WeightStore } from '../graph/weights.ts';
import { randomWeights } from '../graph/randomWeights.ts';
import { compile, flushCompileCache } from './session.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function model() {
  const g = createGraph();
  g.output('y', nn.silu(nn.linear(g.input('x', 'f32', [2, 3]), 'fc', 3, 2)));
  return g;
}

function countingWeights(): WeightStore & { reads: number } {
  const base = memoryWeights({ 'fc.weight': Float32Array.from([1, 2, 3, 4, 5, 6]), 'fc.bias': Float32Array.from([0.5, -0.5]) }, { 'fc.weight': [2, 3] });
  const store = { reads: 0, keys: base.keys, fingerprint: base.fingerprint, get: (n: string) => (store.reads++, base.get(n)) };
  return store;
}

describe('compile cache', () => {
  it('emits once, then loads by path without reading weights', async () => {
    const w1 = countingWeights();
    const first = await compile(model(), w1, { cacheDir: dir });
    await flushCompileCache({ untilSaved: true }); // a first compile saves its entry in the background
    expect(first.fromCache).toBe(false);
    expect(w1.reads).toBe(2);
    const entry = readdirSync(dir);
    expect(entry).toHaveLength(1);
    expect(existsSync(join(dir, entry[0], 'optimized.onnx'))).toBe(true);
    expect(existsSync(join(dir, entry[0], 'weights.bin'))).toBe(false);

    const w2 = countingWeights();
    const second = await compile(model(), w2, { cacheDir: dir });
    expect(second.fromCache).toBe(true);
    expect(w2.reads).toBe(0);
    const x = Float32Array.from([1, 0, 0, 0, 1, -1]);
    const a = (await first.run({ x })).y.data as Float32Array;
    const b = (await second.run({ x })).y.data as Float32Array;
    expect(Array.from(b)).toEqual(Array.from(a));
    // y = silu(W·x + b): row 0 → [1+0.5, 4-0.5]
    expect(a[0]).toBeCloseTo(1.5 / (1 + Math.exp(-1.5)), 5);
    await first.release();
    await second.release();
  });

  // Warm starts map the weights as ORT's kernels pre-packed them (ortSession saveOptimized) instead of
  // packing them again: the entry carries those packed copies, and a model opened from it computes exactly
  // what the freshly compiled one does, in fp32 and int8.
  it.each(['fp32', 'int8'] as const)('a cached model with pre-packed weights runs exactly like the fresh one (%s)', async (precision) => {
    const g = createGraph();
    const x = g.input('x', 'f32', [2, 16, 64]);
    const h = nn.linear(nn.layerNorm(x, 'ln', 64), 'fc1', 64, 128);
    g.output('y', nn.linear(nn.layerNorm(nn.silu(h), 'ln2', 128), 'fc2', 128, 64));
    const w = randomWeights(g, { seed: 3 });
    const cache = join(dir, `prepacked-${precision}`);
    const first = await compile(g, w, { cacheDir: cache, precision });
    await flushCompileCache({ untilSaved: true });
    const second = await compile(g, w, { cacheDir: cache, precision });
    expect([first.fromCache, second.fromCache]).toEqual([false, true]);
    const feed = { x: Float32Array.from({ length: 2 * 16 * 64 }, (_, i) => Math.sin(i * 0.3)) };
    const a = (await first.run(feed)).y.data as Float32Array;
    const b = (await second.run(feed)).y.data as Float32Array;
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    // The data file holds more than the weights themselves (4·64·128·2 bytes of f32, or int8 + scales).
    const [entry] = readdirSync(cache);
    const weightBytes = precision === 'fp32' ? 4 * 2 * 64 * 128 : 2 * 64 * 128;
    expect(statSync(join(cache, entry, 'optimized.bin')).size).toBeGreaterThan(1.5 * weightBytes);
    await first.release();
    await second.release();
  });

  it('gives a different entry for different weights', async () => {
    const other = memoryWeights({ 'fc.weight': new Float32Array(6), 'fc.bias': new Float32Array(2) }, { 'fc.weight': [2, 3] });
    const m = await compile(model(), other, { cacheDir: dir });
    expect(m.fromCache).toBe(false);
    await m.release();
  });
});

describe('runtime errors', () => {
  it('rejects feeds with the wrong shape or missing inputs', async () => {
    const m = await compile(model(), countingWeights(), { cacheDir: false });
    await expect(m.run({})).rejects.toThrow(/missing input "x" \(expected f32 \[2,3\]\)/);
    await expect(m.run({ x: { dtype: 'f32', shape: [3, 2], data: new Float32Array(6) } })).rejects.toThrow(/input "x" is f32 \[3,2\], expected f32 \[2,3\]/);
    await m.release();
  });
  it('explains a missing CUDA provider', async () => {
    await expect(compile(model(), countingWeights(), { cacheDir: false, provider: 'cuda' })).rejects.toThrow(/CUDA execution provider unavailable/);
  });
});
