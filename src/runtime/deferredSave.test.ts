// The deferred save of a first compile (deferredSave.ts): the cold compile hands back a working session at
// once, the optimised entry appears later by itself and a second compile maps it with identical output; a
// saver killed mid-save leaves no entry, and the next compile is cold, works, and saves the entry after all.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGraph } from '../graph/graph.ts';
import * as nn from '../graph/nn.ts';
import { randomWeights } from '../graph/randomWeights.ts';
import { compile, flushCompileCache, type CompiledModel } from './session.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-deferred-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function smallModel() {
  const g = createGraph();
  const x = g.input('x', 'f32', [1, 8, 6, 6]);
  const h = nn.silu(nn.conv2d(x, 'c1', 8, 16, 3, { padding: 1 }));
  g.output('y', nn.conv2d(h, 'c2', 16, 8, 3, { padding: 1 }));
  return { g, w: randomWeights(g, { seed: 5 }) };
}

const feed = { x: Float32Array.from({ length: 8 * 36 }, (_, i) => Math.cos(i * 0.7)) };
const output = async (m: CompiledModel) => Array.from((await m.run(feed)).y.data as Float32Array);
const entryOf = (cache: string, m: CompiledModel) => join(cache, m.key.slice(0, 32));

describe('deferred save of the optimised cache entry', () => {
  it('a cold compile returns a working session; the entry appears in the background and the next compile is a hit with identical output', async () => {
    const cache = join(dir, 'ok');
    const { g, w } = smallModel();
    const cold = await compile(g, w, { cacheDir: cache });
    expect(cold.fromCache).toBe(false);
    const y = await output(cold); // runs before the entry exists
    await flushCompileCache({ untilSaved: true });
    const entry = entryOf(cache, cold);
    expect(readdirSync(cache)).toEqual([entry.slice(cache.length + 1)]); // no marker, no temporary folder
    expect(readdirSync(entry).sort()).toEqual(['optimized.bin', 'optimized.onnx']);
    const warm = await compile(g, w, { cacheDir: cache });
    expect(warm.fromCache).toBe(true);
    expect(await output(warm)).toEqual(y);
    await cold.release();
    await warm.release();
  }, 60_000);

  it('what a saver killed mid-save leaves is never taken for an entry: the next compile is cold, takes over its marker, sweeps its folder and saves', async () => {
    // Killing the real saver mid-save raced with it: a model this small is saved within a few ms of the
    // marker appearing. So the test builds exactly what a killed saver leaves behind — its `.saving`
    // marker naming a process that is gone, its half-written temporary folder, and no entry.
    const cache = join(dir, 'killed');
    const { g, w } = smallModel();
    const first = await compile(g, w, { cacheDir: cache });
    const y = await output(first);
    await flushCompileCache({ untilSaved: true });
    const entry = entryOf(cache, first);
    rmSync(entry, { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    writeFileSync(`${entry}.saving`, String(dead));
    mkdirSync(`${entry}.tmp-${dead}-optimized`);
    writeFileSync(join(`${entry}.tmp-${dead}-optimized`, 'optimized.onnx'), 'half-written');

    const second = await compile(g, w, { cacheDir: cache });
    expect(second.fromCache).toBe(false); // nothing half-written was taken for an entry
    expect(await output(second)).toEqual(y);
    await flushCompileCache({ untilSaved: true });
    // The stale marker was taken over and the dead saver's temporary folder swept.
    expect(readdirSync(cache)).toEqual([entry.slice(cache.length + 1)]);
    expect(readdirSync(entry).sort()).toEqual(['optimized.bin', 'optimized.onnx']);
    const third = await compile(g, w, { cacheDir: cache });
    expect(third.fromCache).toBe(true);
    expect(await output(third)).toEqual(y);
    for (const m of [first, second, third]) await m.release();
  }, 60_000);
});
