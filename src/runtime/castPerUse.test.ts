// Training graphs with f16-stored frozen weights: one Cast per use survives ORT's optimisation (its
// common-subexpression elimination would merge them into one f32 copy alive from forward to
// backward), and the gradients are those of the shared-cast model.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { createGraph } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import { grad } from '../graph/autodiff.ts';
import { emitOnnx } from '../graph/emitOnnx.ts';
import { randomWeights } from '../graph/randomWeights.ts';
import { openSession } from './ortSession.ts';
import { compile } from './session.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-castperuse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Two matmuls (weights large enough to be stored f16; linear weights, since inference keeps conv kernels f32:
 * see storedAsF16), differentiated by their input only.
 */
function training() {
  const g = createGraph('two_linears');
  const x = g.input('x', 'f32', [1, 16, 64]);
  const y = op.matmul(op.matmul(x, g.param('w1', [64, 64])), g.param('w2', [64, 64]));
  g.output('loss', op.reduceSum(op.mul(y, y), [0, 1, 2], false));
  return grad(g, 'loss', ['x']);
}

const casts = (bytes: Uint8Array) => onnxProto.onnx.ModelProto.decode(bytes).graph!.node!.filter((n) => n.opType === 'Cast').length;

describe('castPerUse', () => {
  const train = training();
  const weights = randomWeights(train, { std: 0.1 });

  it('emits a Cast per use and ORT keeps them all when asked', async () => {
    const shared = emitOnnx(train, weights, { weightStorage: 'f16' });
    const perUse = emitOnnx(train, weights, { weightStorage: 'f16', castPerUse: true });
    expect(casts(shared)).toBe(2);
    // Each weight: its forward matmul and its input-gradient matmul.
    expect(casts(perUse)).toBe(4);
    for (const keep of [false, true]) {
      const path = join(dir, `optimized-${keep}.onnx`);
      const s = await openSession(perUse, {}, { saveOptimized: { path, dataFile: `optimized-${keep}.bin` }, keepDuplicateCasts: keep });
      await s.release();
      expect(casts(readFileSync(path))).toBe(keep ? 4 : 2);
    }
  });

  it('gives the same loss and gradient as one shared Cast per weight', async () => {
    const x = Float32Array.from({ length: 16 * 64 }, (_, i) => Math.sin(i * 0.37));
    const [a, b] = await Promise.all([false, true].map(async (castPerUse) => {
      const m = await compile(train, weights, { weightStorage: 'f16', castPerUse, cacheDir: join(dir, 'cache') });
      const out = await m.run({ x });
      await m.release();
      return out;
    }));
    const f32 = (t: { data: unknown }) => t.data as Float32Array;
    expect(f32(b.loss)[0]).toBe(f32(a.loss)[0]);
    expect(Array.from(f32(b['grad:x']))).toEqual(Array.from(f32(a['grad:x'])));
    expect(Math.max(...Array.from(f32(a['grad:x']), Math.abs))).toBeGreaterThan(1e-3);
  });
});
