// User .onnx files: opened by path, inputs read from the file (dynamic dims included), feeds checked
// like a compiled model's, and a clear RuntimeError for missing, broken or CUDA-less cases.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { createGraph } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import { emitOnnx } from '../graph/emitOnnx.ts';
import { memoryWeights } from '../graph/weights.ts';
import { openOnnx } from './openOnnx.ts';
import { RuntimeError } from './ortSession.ts';

const { onnx } = onnxProto;
const dir = mkdtempSync(join(tmpdir(), 'inkflow-open-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** y = 2x + 1 on [1, 3, 4, 4]; `dynamic` renames dims 2 and 3 to the symbol "S" in the file. */
function writeModel(name: string, dynamic = false): string {
  const g = createGraph('double');
  g.output('y', op.add(op.mul(g.input('x', 'f32', [1, 3, 4, 4]), 2), 1));
  let bytes = emitOnnx(g, memoryWeights({}));
  if (dynamic) {
    const model = onnx.ModelProto.decode(bytes);
    for (const v of [...model.graph!.input!, ...model.graph!.output!]) {
      const dims = v.type!.tensorType!.shape!.dim!;
      for (const i of [2, 3]) dims[i] = onnx.TensorShapeProto.Dimension.create({ dimParam: 'S' });
    }
    bytes = onnx.ModelProto.encode(model).finish();
  }
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

describe('openOnnx', () => {
  it('reads the inputs from the file and runs like a compiled model', async () => {
    const m = await openOnnx(writeModel('fixed.onnx'), { threads: 1 });
    expect(m.inputs).toEqual([{ name: 'x', dtype: 'f32', shape: [1, 3, 4, 4] }]);
    expect(m.outputNames).toEqual(['y']);
    const x = Float32Array.from({ length: 48 }, (_, i) => i / 10);
    const y = (await m.run({ x })).y;
    expect(y.dtype).toBe('f32');
    expect(y.shape).toEqual([1, 3, 4, 4]);
    expect(Array.from(y.data as Float32Array)).toEqual(Array.from(x, (v) => Math.fround(2 * v + 1)));
    await expect(m.run({})).rejects.toThrow(/missing input "x" \(expected f32 \[1,3,4,4\]\)/);
    await expect(m.run({ x: { dtype: 'f32', shape: [1, 3, 2, 8], data: x } })).rejects.toThrow(/input "x" is f32 \[1,3,2,8\], expected f32 \[1,3,4,4\]/);
    await m.release();
  });

  it('accepts any size on dynamic dims, but wants the shape spelled out', async () => {
    const m = await openOnnx(writeModel('dynamic.onnx', true));
    expect(m.inputs[0].shape).toEqual([1, 3, 'S', 'S']);
    const data = new Float32Array(3 * 6 * 6).fill(0.5);
    const y = (await m.run({ x: { dtype: 'f32', shape: [1, 3, 6, 6], data } })).y;
    expect(y.shape).toEqual([1, 3, 6, 6]);
    expect((y.data as Float32Array)[107]).toBe(2);
    await expect(m.run({ x: data })).rejects.toThrow(/dynamic shape \[1,3,S,S\]: pass \{ dtype, shape, data \}/);
    await expect(m.run({ x: { dtype: 'f32', shape: [1, 1, 6, 6], data: data.subarray(0, 36) } })).rejects.toThrow(/expected f32 \[1,3,S,S\]/);
    await expect(m.run({ x: { dtype: 'f32', shape: [1, 3, 6, 6], data: data.subarray(1) } })).rejects.toThrow(/has 107 values for shape \[1,3,6,6\]/);
    await m.release();
  });

  it('gives a RuntimeError for a missing file, a file that is not ONNX, and no CUDA', async () => {
    await expect(openOnnx(join(dir, 'absent.onnx'))).rejects.toThrow(/absent\.onnx does not exist/);
    const junk = join(dir, 'junk.onnx');
    writeFileSync(junk, 'not a model');
    await expect(openOnnx(junk)).rejects.toBeInstanceOf(RuntimeError);
    await expect(openOnnx(junk)).rejects.toThrow(/onnxruntime could not load the model/);
    await expect(openOnnx(writeModel('cuda.onnx'), { provider: 'cuda' })).rejects.toThrow(/CUDA execution provider unavailable/);
  });
});
