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
import { DENSE_CONV_MIN_PIXELS } from '../graph/denseConvKernels.ts';
import { f16ToF32Array, f32ToF16Array } from '../graph/half.ts';
import type { WeightStore } from '../graph/weights.ts';
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

/** Two frozen 3×3 convs, one at the dense bound's resolution and one at a quarter of it, differentiated by their inputs. */
function twoConvs() {
  const g = createGraph('two_convs');
  const side = Math.sqrt(DENSE_CONV_MIN_PIXELS);
  const conv = (x: ReturnType<typeof g.input>, name: string) => op.conv(x, g.param(name, [16, 16, 3, 3]), undefined, { pads: [1, 1, 1, 1] });
  const a = conv(g.input('xa', 'f32', [1, 16, side, side]), 'dense');
  const b = conv(g.input('xb', 'f32', [1, 16, side / 2, side / 2]), 'sparse');
  g.output('loss', op.add(op.reduceSum(op.mul(a, a), [0, 1, 2, 3], false), op.reduceSum(op.mul(b, b), [0, 1, 2, 3], false)));
  return grad(g, 'loss', ['xa', 'xb']);
}

/** `store` with every weight rounded to f16, so f16 storage changes no value. */
function roundedToF16(store: WeightStore): WeightStore {
  return {
    get(name) {
      const p = store.get(name);
      if (!p) return undefined;
      const w = f16ToF32Array(f32ToF16Array(new Float32Array(p.bytes.buffer, p.bytes.byteOffset, p.bytes.byteLength / 4)));
      return { ...p, bytes: new Uint8Array(w.buffer) };
    },
    keys: () => store.keys(),
    fingerprint: () => `${store.fingerprint()}:f16-rounded`,
  };
}

describe('castPerUse with high-resolution convs', () => {
  const train = twoConvs();
  const weights = roundedToF16(randomWeights(train, { std: 0.1 }));

  it('keeps their kernels f32 constants, which ORT runs NCHWc in the forward and (flipped) in the input gradient', async () => {
    const bytes = emitOnnx(train, weights, { weightStorage: 'f16', castPerUse: true });
    const { FLOAT, FLOAT16 } = onnxProto.onnx.TensorProto.DataType;
    const stored = new Map(onnxProto.onnx.ModelProto.decode(bytes).graph!.initializer!.map((t) => [t.name, t.dataType]));
    expect([stored.get('dense'), stored.get('sparse::f16')]).toEqual([FLOAT, FLOAT16]);
    const path = join(dir, 'dense-convs.onnx');
    await (await openSession(bytes, {}, { saveOptimized: { path, dataFile: 'dense-convs.bin' }, keepDuplicateCasts: true })).release();
    const nodes = onnxProto.onnx.ModelProto.decode(readFileSync(path)).graph!.node!;
    expect(nodes.filter((n) => n.opType === 'Conv' && n.domain === 'com.microsoft.nchwc')).toHaveLength(2);
    // The quarter-resolution conv: f16, cast for its forward and for its ConvTranspose input gradient.
    expect(nodes.filter((n) => n.opType === 'Cast')).toHaveLength(2);
    expect(nodes.filter((n) => n.opType === 'ConvTranspose')).toHaveLength(1);
  });

  it('gives the loss and input gradients of f32 storage', async () => {
    const side = Math.sqrt(DENSE_CONV_MIN_PIXELS);
    const feeds = {
      xa: Float32Array.from({ length: 16 * side * side }, (_, i) => Math.sin(i * 0.37)),
      xb: Float32Array.from({ length: 16 * (side / 2) ** 2 }, (_, i) => Math.cos(i * 0.21)),
    };
    const [f32, f16] = await Promise.all((['f32', 'f16'] as const).map(async (weightStorage) => {
      const m = await compile(train, weights, { weightStorage, castPerUse: true, cacheDir: false });
      const out = await m.run(feeds);
      await m.release();
      return out;
    }));
    const data = (t: { data: unknown }) => Array.from(t.data as Float32Array);
    expect(Math.abs(data(f16.loss)[0] - data(f32.loss)[0])).toBeLessThan(1e-5 * data(f32.loss)[0]);
    for (const name of ['grad:xa', 'grad:xb']) {
      const [a, b] = [data(f32[name]), data(f16[name])];
      const scale = Math.max(...a.map(Math.abs));
      expect(scale).toBeGreaterThan(1e-2);
      expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeLessThan(1e-5 * scale);
    }
  });
});
