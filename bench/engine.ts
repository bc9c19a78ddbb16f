// Engine suite: the hot paths of an SD1.5 UNet at 64² latents (512² images) on random weights —
// a 3×3 conv 320→320, a ResnetBlock2D at 320 channels, and a Transformer2DModel block (8 heads,
// 77×768 context), at batch 1 and 2 (CFG).
import { createGraph } from '../src/graph/graph.ts';
import * as nn from '../src/graph/nn.ts';
import { resnetBlock2D } from '../src/models/unet/resnetBlock.ts';
import { transformer2D } from '../src/models/unet/transformer2d.ts';
import { benchGraph, type BenchResult } from './harness.ts';

export async function runEngineBench(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  {
    const g = createGraph();
    g.output('y', nn.conv2d(g.input('x', 'f32', [1, 320, 64, 64]), 'conv', 320, 320, 3));
    results.push(await benchGraph('conv3x3 320→320 64² b1', g, { runs: 10 }));
  }
  for (const b of [1, 2]) {
    const g = createGraph();
    const x = g.input('x', 'f32', [b, 320, 64, 64]);
    const temb = g.input('temb', 'f32', [b, 1280]);
    g.output('y', resnetBlock2D(x, temb, { outChannels: 320, groups: 32, eps: 1e-5 }));
    results.push(await benchGraph(`ResBlock 320ch 64² b${b}`, g));
  }
  for (const b of [1, 2]) {
    const g = createGraph();
    const x = g.input('x', 'f32', [b, 320, 64, 64]);
    const ctx = g.input('context', 'f32', [b, 77, 768]);
    g.output('y', transformer2D(x, ctx, { heads: 8, layers: 1, groups: 32, useLinearProjection: false, crossAttentionDim: 768 }));
    results.push(await benchGraph(`Transformer 320ch 64² b${b}`, g, { runs: 3 }));
  }
  return results;
}
