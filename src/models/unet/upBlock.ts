// diffusers CrossAttnUpBlock2D / UpBlock2D: for each resnet, concat the last remaining skip on the channel
// axis, resnet [+ transformer]; then an optional upsampler (to `upsampleSize` when the latent size is not
// a multiple of the UNet's factor).
import type { Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import type { UNetConfig, UpLevel } from './config.ts';
import { resnetBlock2D } from './resnetBlock.ts';
import { levelTransformerOptions, transformer2D, type CrossAttentionHook } from './transformer2d.ts';
import { upsample2D } from './upsample.ts';

/** `skips` are this block's skip states in down-path order (the last is consumed first). */
export function upBlock(x: Tensor, skips: readonly Tensor[], temb: Tensor, context: Tensor | undefined, level: UpLevel, config: UNetConfig, upsampleSize?: readonly [number, number], crossAttention?: CrossAttentionHook): Tensor {
  const g = x.graph;
  if (skips.length !== level.layers) throw new Error(`upBlock: needs ${level.layers} skip states, got ${skips.length}`);
  let h = x;
  for (let j = 0; j < level.layers; j++) {
    h = op.concat([h, skips[skips.length - 1 - j]], 1);
    h = g.within('resnets', () => g.within(j, () => resnetBlock2D(h, temb, { outChannels: level.outChannels, groups: config.normNumGroups, eps: config.normEps })));
    if (level.attention) {
      if (!context) throw new Error('upBlock: a cross-attention block needs encoder_hidden_states');
      const ctx = context;
      h = g.within('attentions', () => g.within(j, () => transformer2D(h, ctx, levelTransformerOptions(level, config, crossAttention))));
    }
  }
  if (level.upsample) h = g.within('upsamplers', () => g.within(0, () => upsample2D(h, level.outChannels, upsampleSize)));
  return h;
}
