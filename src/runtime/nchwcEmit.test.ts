// Convs emitted in NCHWc form (graph/nchwcLayout.ts) must compute exactly what the plain graph computes
// after ORT's own NCHWc conversion, and leave ORT the same graph: same op counts after optimisation.
// Runs through onnxruntime, hence in runtime.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { createGraph, numel, type Graph, type Tensor } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import { conv2d, groupNorm, silu } from '../graph/nn.ts';
import { emitOnnx } from '../graph/emitOnnx.ts';
import { NCHWC_DOMAIN } from '../graph/nchwcLayout.ts';
import { randomWeights } from '../graph/randomWeights.ts';
import { openSession } from './ortSession.ts';
import { nchwcBlockSize } from './nchwcBlock.ts';

const { onnx } = onnxProto;

/** A small UNet-shaped graph touching every rewrite: the first conv (4 input channels, plain NCHW input), a
 * residual Sum, an activation fold, attention-style transposes, a nearest upsample, a channel concat, a
 * filter shared by two convs and an output conv with 4 channels (padded to a block). */
function testGraph(): Graph {
  const g = createGraph('nchwc');
  const x = g.input('x', 'f32', [1, 4, 8, 8]);
  const h0 = conv2d(x, 'conv_in', 4, 32, 3);
  const h1 = conv2d(silu(groupNorm(h0, 'norm1', 8)), 'conv1', 32, 32, 3);
  const res = op.add(conv2d(silu(groupNorm(h1, 'norm2', 8)), 'conv2', 32, 32, 3), h0);
  const tokens = op.reshape(op.transpose(conv2d(res, 'proj_in', 32, 32, 1), [0, 2, 3, 1]), [1, 64, 32]);
  const mixed = op.matmul(op.softmax(op.matmul(tokens, op.transpose(tokens, [0, 2, 1]))), tokens);
  const back = op.transpose(op.reshape(mixed, [1, 8, 8, 32]), [0, 3, 1, 2]);
  const attn = op.add(conv2d(back, 'proj_out', 32, 32, 1), res);
  const act = op.tanh(conv2d(attn, 'act_conv', 32, 32, 3));
  const up = conv2d(op.resizeNearest(attn, 2), 'up_conv', 32, 32, 3);
  const upAct = conv2d(op.resizeNearest(act, 2), 'up_act', 32, 32, 3);
  const cat = conv2d(op.concat([up, upAct], 1), 'cat_conv', 64, 32, 3);
  const shared = g.param('shared.weight', [32, 32, 1, 1]);
  const twice = op.add(op.conv(cat, shared, undefined), op.conv(up, shared, undefined));
  const out: Tensor = conv2d(silu(groupNorm(twice, 'norm_out', 8)), 'conv_out', 32, 4, 3);
  g.output('out', out);
  return g;
}

function opCounts(model: Uint8Array): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of onnx.ModelProto.decode(model).graph!.node!) {
    const key = `${n.domain ? `${n.domain}:` : ''}${n.opType}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** ORT's optimised form of `model` (level "all"), and the model's output on `x`. */
async function optimiseAndRun(model: Uint8Array, x: Float32Array): Promise<{ optimised: Record<string, number>; out: Float32Array }> {
  const dir = mkdtempSync(join(tmpdir(), 'inkflow-nchwc-'));
  try {
    const s = await openSession(model, { threads: 1 }, { saveOptimized: { path: join(dir, 'opt.onnx'), dataFile: 'opt.bin' } });
    const r = await s.run({ x: new ort.Tensor('float32', x, [1, 4, 8, 8]) });
    await s.release();
    return { optimised: opCounts(readFileSync(join(dir, 'opt.onnx'))), out: r.out.data as Float32Array };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('NCHWc emission', () => {
  it('computes exactly what ORT makes of the plain graph, leaving ORT the same optimised graph', async () => {
    const block = await nchwcBlockSize();
    expect([8, 16]).toContain(block);
    const g = testGraph();
    const w = randomWeights(g, { scale: 'fanIn' });
    const x = Float32Array.from({ length: numel([1, 4, 8, 8]) }, (_, i) => Math.sin(i * 0.37));
    const plain = emitOnnx(g, w);
    const blocked = emitOnnx(g, w, { nchwcBlock: block });

    const emitted = opCounts(blocked);
    expect(emitted[`${NCHWC_DOMAIN}:Conv`]).toBe(12);
    expect(emitted.Conv).toBeUndefined();
    expect(emitted[`${NCHWC_DOMAIN}:Upsample`]).toBe(2);
    expect(emitted.Tanh).toBeUndefined(); // folded into act_conv
    expect(emitted.Transpose).toBe(1); // only tokensᵀ inside the attention is left

    const a = await optimiseAndRun(plain, x);
    const b = await optimiseAndRun(blocked, x);
    expect(b.optimised).toEqual(a.optimised);
    expect(Array.from(b.out)).toEqual(Array.from(a.out));
  });

  it('pads channels that are not whole blocks (24 in, 8 out) as ORT does, with the same result', async () => {
    const block = (await nchwcBlockSize())!;
    const g = createGraph('odd');
    const x = g.input('x', 'f32', [1, 4, 8, 8]);
    const h = conv2d(conv2d(x, 'a', 4, 32, 3), 'b', 32, 24, 3);
    const eight = conv2d(h, 'c', 24, 8, 3);
    g.output('out', conv2d(op.concat([op.add(eight, conv2d(x, 'd', 4, 8, 1)), h], 1), 'e', 32, 8, 1));
    const w = randomWeights(g, { scale: 'fanIn' });
    const input = Float32Array.from({ length: numel([1, 4, 8, 8]) }, (_, i) => Math.cos(i * 0.11));
    const blocked = emitOnnx(g, w, { nchwcBlock: block });
    expect(opCounts(blocked).Conv).toBeUndefined();
    const a = await optimiseAndRun(emitOnnx(g, w), input);
    const b = await optimiseAndRun(blocked, input);
    expect(b.optimised).toEqual(a.optimised);
    expect(Array.from(b.out)).toEqual(Array.from(a.out));
  });

  it('keeps convs plain without a block size', () => {
    const g = testGraph();
    expect(opCounts(emitOnnx(g, randomWeights(g)))[`${NCHWC_DOMAIN}:Conv`]).toBeUndefined();
  });
});
