// disabledOptimizers reaches ORT: with CommonSubexpressionElimination off, two identical subexpressions
// stay two nodes in the model ORT optimised and saved; by default ORT merges them. The two compiles get
// different cache entries (the list is part of the key).
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { createGraph } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import { memoryWeights } from '../graph/weights.ts';
import { compile, flushCompileCache } from './session.ts';

const { onnx } = onnxProto;
const dir = mkdtempSync(join(tmpdir(), 'inkflow-disabled-opt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function twinGraph() {
  const g = createGraph('twins');
  const x = g.input('x', 'f32', [4]);
  g.output('y', op.add(op.exp(x), op.exp(x)));
  return g;
}

async function savedExpNodes(cacheDir: string, disabledOptimizers?: string[]): Promise<{ exps: number; y: number[]; key: string }> {
  const model = await compile(twinGraph(), memoryWeights({}), { cacheDir, disabledOptimizers });
  const y = [...((await model.run({ x: Float32Array.from([0, 1, 2, 3]) })).y.data as Float32Array)];
  await model.release();
  await flushCompileCache({ untilSaved: true });
  const saved = onnx.ModelProto.decode(readFileSync(join(cacheDir, model.key.slice(0, 32), 'optimized.onnx')));
  return { exps: saved.graph!.node!.filter((n) => n.opType === 'Exp').length, y, key: model.key };
}

describe('disabled ORT optimizers', () => {
  it('CommonSubexpressionElimination off keeps duplicate subexpressions; on (default) merges them', async () => {
    const cache = join(dir, 'cache');
    const merged = await savedExpNodes(cache);
    const kept = await savedExpNodes(cache, ['CommonSubexpressionElimination']);
    expect(merged.exps).toBe(1);
    expect(kept.exps).toBe(2);
    expect(kept.y).toEqual(merged.y);
    expect(kept.key).not.toBe(merged.key);
    expect(readdirSync(cache)).toHaveLength(2);
  });
});
