// diffusers UNetMidBlock2DCrossAttn: resnets.0 → (attentions.k → resnets.k+1)…, one attention by default.
import type { Tensor } from '../../graph/graph.ts';
import type { UNetConfig } from './config.ts';
import { resnetBlock2D } from './resnetBlock.ts';
import { levelTransformerOptions, transformer2D, type CrossAttentionHook } from './transformer2d.ts';

export function midBlock(x: Tensor, temb: Tensor, context: Tensor, config: UNetConfig, crossAttention?: CrossAttentionHook): Tensor {
  const g = x.graph;
  const m = config.mid;
  const resnet = (h: Tensor, j: number) => g.within('resnets', () => g.within(j, () => resnetBlock2D(h, temb, {
    outChannels: m.channels, groups: config.normNumGroups, eps: config.normEps, outputScaleFactor: m.scaleFactor,
  })));
  let h = resnet(x, 0);
  h = g.within('attentions', () => g.within(0, () => transformer2D(h, context, levelTransformerOptions(m, config, crossAttention))));
  return resnet(h, 1);
}
