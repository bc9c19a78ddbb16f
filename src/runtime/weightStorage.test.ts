// f16 weight storage: fp16 checkpoints stay fp16 in the compiled model (half the disk and memory),
// computing exactly what the f32 model computes with the same (fp16-representable) weights.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGraph } from '../graph/graph.ts';
import * as nn from '../graph/nn.ts';
import { f16ToF32Array, f32ToF16Array } from '../graph/half.ts';
import type { ParamData, WeightStore } from '../graph/weights.ts';
import { nchwcBlockSize } from './nchwcBlock.ts';
import { compile, flushCompileCache } from './session.ts';
import { emitOnnx } from '../graph/emitOnnx.ts';
import { randomWeights } from '../graph/randomWeights.ts';
import { openSession } from './ortSession.ts';
import onnxProto from 'onnx-proto';
import { readFileSync } from 'node:fs';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-f16-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function model() {
  const g = createGraph();
  g.output('y', nn.conv2d(nn.silu(nn.linear(g.input('x', 'f32', [1, 1, 4, 64]), 'fc', 64, 64)), 'conv', 1, 2, 3));
  return g;
}

/** Weights rounded to f16 and served as f32, optionally marked as coming from an fp16 file. */
function weights(markF16: boolean, round = true): WeightStore {
  const make = (n: number, seed: number) => {
    const a = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.731 + seed) * 0.2);
    return round ? f16ToF32Array(f32ToF16Array(a)) : a;
  };
  const shapes: Record<string, number[]> = { 'fc.weight': [64, 64], 'fc.bias': [64], 'conv.weight': [2, 1, 3, 3], 'conv.bias': [2] };
  const data = Object.fromEntries(Object.entries(shapes).map(([k, s], i) => [k, make(s.reduce((a, b) => a * b, 1), i)]));
  return {
    get(name): ParamData | undefined {
      const d = data[name];
      if (!d) return undefined;
      const p = { dtype: 'f32' as const, shape: shapes[name], bytes: new Uint8Array(d.buffer) };
      return markF16 ? { ...p, sourceDType: 'f16' } : p;
    },
    keys: () => Object.keys(shapes),
    fingerprint: () => `f16-test:${markF16}:${round}`,
  };
}

const x = Float32Array.from({ length: 256 }, (_, i) => Math.cos(i * 0.37));

async function run(store: WeightStore, weightStorage?: 'f32' | 'f16' | 'auto') {
  const cacheDir = join(dir, `${store.fingerprint()}-${weightStorage}`);
  const m = await compile(model(), store, { cacheDir, weightStorage });
  const y = (await m.run({ x })).y.data as Float32Array;
  await m.release();
  await flushCompileCache({ untilSaved: true }); // a first compile saves its entry in the background
  const entry = join(cacheDir, readdirSync(cacheDir)[0]);
  return { y, files: readdirSync(entry).sort(), bytes: (f: string) => statSync(join(entry, f)).size };
}

describe('weight storage', () => {
  it('auto keeps fp16-stored weights f16 and computes the same as f32', async () => {
    const f32 = await run(weights(true), 'f32');
    const auto = await run(weights(true));
    expect(Array.from(auto.y)).toEqual(Array.from(f32.y));
    expect(auto.files).toEqual(['model.onnx', 'weights.bin']);
    // fc.weight (4096 values) is stored as f16; the small tensors stay f32, the conv's 2 output channels
    // zero-padded to one NCHWc block (graph/nchwcLayout.ts).
    const block = (await nchwcBlockSize())!;
    expect(auto.bytes('weights.bin')).toBe(4096 * 2 + (64 + block * 9 + block) * 4);
    expect(f32.files).toContain('optimized.onnx');
  });

  it('auto leaves weights from f32 files alone', async () => {
    const auto = await run(weights(false));
    expect(auto.files).toContain('optimized.onnx');
  });

  it('forced f16 rounds f32 weights to half precision', async () => {
    const exact = await run(weights(false, false), 'f32');
    const half = await run(weights(false, false), 'f16');
    let err = 0;
    let scale = 0;
    exact.y.forEach((v, i) => {
      err = Math.max(err, Math.abs(v - half.y[i]));
      scale = Math.max(scale, Math.abs(v));
    });
    expect(err).toBeGreaterThan(0);
    expect(err / scale).toBeLessThan(2e-3);
  });

  it('f16 storage keeps convolution kernels and vectors f32, so ORT still runs the convolution in its NCHWc layout', async () => {
    const g = createGraph();
    const h = nn.linear(g.input('x', 'f32', [1, 32, 8, 64]), 'fc', 64, 64);
    g.output('y', nn.conv2d(h, 'conv', 32, 32, 3));
    const bytes = emitOnnx(g, randomWeights(g), { weightStorage: 'f16' });
    const m = onnxProto.onnx.ModelProto.decode(bytes);
    const dtype = (name: string) => m.graph!.initializer!.find((t) => t.name === name || t.name === `${name}::f16`)!.dataType;
    const { FLOAT, FLOAT16 } = onnxProto.onnx.TensorProto.DataType;
    expect([dtype('fc.weight'), dtype('fc.bias'), dtype('conv.weight'), dtype('conv.bias')]).toEqual([FLOAT16, FLOAT, FLOAT, FLOAT]);
    const path = join(dir, 'nchwc.onnx');
    await (await openSession(bytes, {}, { saveOptimized: { path, dataFile: 'nchwc.bin' } })).release();
    const ops = onnxProto.onnx.ModelProto.decode(readFileSync(path)).graph!.node!.map((n) => n.opType);
    expect(ops).toContain('ReorderInput'); // into NCHWc for the convolution
    expect(ops.filter((o) => o === 'Cast')).toHaveLength(1); // fc.weight only
  });
});
