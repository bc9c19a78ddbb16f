// A LoRA training graph differentiates only through the frozen UNet: no weight gradient of a frozen
// layer is ever computed (conv dW alone is a third of a full step's work), and each frozen weight
// reaches the backward only as an operand of an input-gradient product.
import { describe, it, expect } from 'vitest';
import { fmtShape, type Graph } from '../graph/graph.ts';
import { grad } from '../graph/autodiff.ts';
import { parseUNetConfig } from '../models/unet/config.ts';
import { buildUNetGraph } from '../models/unet/load.ts';
import { addLoraBranches } from './lora.ts';
import { weightedMse } from './diffusionObjective.ts';

const UNET = {
  _class_name: 'UNet2DConditionModel', block_out_channels: [8, 16], layers_per_block: 1,
  down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
  attention_head_dim: 2, cross_attention_dim: 6, norm_num_groups: 4,
};

function loraTrainingGraph(): { forward: Graph; train: Graph } {
  const g = buildUNetGraph(parseUNetConfig(UNET), { batch: 1, height: 8, width: 8, seqLen: 3 });
  const pred = g.tensor(g.outputs.find((o) => o.name === 'out_sample')!.id);
  g.output('loss', weightedMse(pred, g.input('target', 'f32', pred.shape), g.input('weights', 'f32', [1])));
  const { graph, modules } = addLoraBranches(g, { rank: 2, alpha: 2 });
  return { forward: graph, train: grad(graph, 'loss', modules.flatMap((m) => [m.down, m.up])) };
}

describe('LoRA training graph', () => {
  const { forward, train } = loraTrainingGraph();
  const frozen = [...forward.params.keys()].filter((name) => !name.includes('lora'));
  const frozenShapes = new Set(frozen.map((name) => fmtShape(forward.values[forward.params.get(name)!].shape)).filter((s) => s.split(',').length === 4));

  it('computes no frozen conv weight gradient (no tap products, no tensor shaped like a conv kernel from a MatMul or Concat)', () => {
    expect(frozenShapes.size).toBeGreaterThan(2);
    // A weight gradient ends as a kernel-shaped product: a MatMul/Concat, or a Reshape of one (taps → kernel).
    const kernelShaped = (t: Graph) => {
      const producer = new Map(t.nodes.flatMap((n) => n.outputs.map((id) => [id, n] as const)));
      const product = (op: string | undefined) => op === 'MatMul' || op === 'Concat';
      return t.nodes
        .filter((n) => frozenShapes.has(fmtShape(t.values[n.outputs[0]].shape)))
        .filter((n) => product(n.op) || (n.op === 'Reshape' && product(producer.get(n.inputs[0])?.op)));
    };
    expect(kernelShaped(train)).toEqual([]);
    // The same check on a full-parameter graph does see the conv weight gradients.
    expect(kernelShaped(grad(forward, 'loss', frozen)).length).toBeGreaterThan(2);
  });

  it('has one input-gradient conv per frozen conv whose input depends on a LoRA branch, none for those before the first', () => {
    const dependent = new Set([...forward.params].filter(([name]) => name.includes('lora')).map(([, id]) => id));
    for (const n of forward.nodes) if (n.inputs.some((id) => dependent.has(id))) n.outputs.forEach((id) => dependent.add(id));
    const convs = forward.nodes.filter((n) => n.op === 'Conv');
    const needDx = convs.filter((n) => dependent.has(n.inputs[0])).length;
    expect(needDx).toBeGreaterThan(10);
    expect(needDx).toBeLessThan(convs.length);
    const backward = train.nodes.filter((n) => n.op === 'Conv' || n.op === 'ConvTranspose').length - convs.length;
    expect(backward).toBe(needDx);
  });
});
