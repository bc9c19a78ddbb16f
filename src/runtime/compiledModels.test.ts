// Compiled models by key: one compile per key (shared by concurrent callers), a failed compile is retried,
// release frees them all and later calls compile again.
import { describe, expect, it } from 'vitest';
import { createGraph } from '../graph/graph.ts';
import * as nn from '../graph/nn.ts';
import { memoryWeights } from '../graph/weights.ts';
import { compiledModels } from './compiledModels.ts';

const weights = memoryWeights({ 'fc.weight': Float32Array.from([1, 2, 3, 4, 5, 6]), 'fc.bias': Float32Array.from([0.5, -0.5]) }, { 'fc.weight': [2, 3] });

function model(batch: number) {
  const g = createGraph();
  g.output('y', nn.linear(g.input('x', 'f32', [batch, 3]), 'fc', 3, 2));
  return g;
}

describe('compiledModels', () => {
  it('builds and compiles once per key, also for concurrent callers', async () => {
    const set = compiledModels(weights, { cacheDir: false, threads: 1 });
    let builds = 0;
    const build = (b: number) => () => (builds++, model(b));
    const [a, a2] = await Promise.all([set.get('1', build(1)), set.get('1', build(1))]);
    expect(a2).toBe(a);
    const b = await set.get('2', build(2));
    expect(b).not.toBe(a);
    expect(builds).toBe(2);
    const y = (await b.run({ x: Float32Array.from([1, 0, 0, 0, 1, 0]) })).y.data as Float32Array;
    expect(Array.from(y)).toEqual([1.5, 3.5, 2.5, 4.5]);
    await set.release();
    expect(await set.get('1', build(1))).not.toBe(a);
    expect(builds).toBe(3);
    await set.release();
  });

  it('forgets a failed compile so the next call retries, and release skips it', async () => {
    const set = compiledModels(weights, { cacheDir: false, threads: 1 });
    const bad = () => {
      const g = createGraph();
      g.output('y', nn.linear(g.input('x', 'f32', [1, 3]), 'missing', 3, 2));
      return g;
    };
    await expect(set.get('k', bad)).rejects.toThrow(/missing/);
    const good = await set.get('k', () => model(1));
    expect(good.inputNames).toEqual(['x']);
    await expect(set.release()).resolves.toBeUndefined();
  });
});
