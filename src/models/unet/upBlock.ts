// diffusers CrossAttnUpBlock2D / UpBlock2D: for each resnet, concat the last remaining skip on the channel
// axis, resnet [+ transformer]; then an optional upsampler (to `upsampleSize` when the latent size is not
// a multiple of the UNet's factor).
import type { Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import type { UNetConfig, UpLevel } from './config.ts';
import { resnetBlock2D } from './resnetBlock.ts';
import { levelTransformerOptions, transformer2D, type CrossAttentionHook } from './transformer2d.ts';
import { upsample2D } from './upsample.ts';

/** Layers [from, to) of an up block (step caching runs a block in two parts around its cached state). */
export type LayerRange = readonly [number, number];

/**
 * `skips` are the skip states of the layers built, in down-path order (the last is consumed first);
 * `layers` limits the block to some of its layers (the upsampler comes after the last layer only).
 */
export function upBlock(x: Tensor, skips: readonly Tensor[], temb: Tensor, context: Tensor | undefined, level: UpLevel, config: UNetConfig, upsampleSize?: readonly [number, number], crossAttention?: CrossAttentionHook, layers: LayerRange = [0, level.layers]): Tensor {
  const g = x.graph;
  const [from, to] = layers;
  if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && from < to && to <= level.layers)) throw new Error(`upBlock: layer range [${from}, ${to}) outside [0, ${level.layers})`);
  if (skips.length !== to - from) throw new Error(`upBlock: layers [${from}, ${to}) need ${to - from} skip states, got ${skips.length}`);
  let h = x;
  for (let j = from; j < to; j++) {
    h = op.concat([h, skips[skips.length - 1 - (j - from)]], 1);
    h = g.within('resnets', () => g.within(j, () => resnetBlock2D(h, temb, { outChannels: level.outChannels, groups: config.normNumGroups, eps: config.normEps })));
    if (level.attention) {
      if (!context) throw new Error('upBlock: a cross-attention block needs encoder_hidden_states');
      const ctx = context;
      h = g.within('attentions', () => g.within(j, () => transformer2D(h, ctx, levelTransformerOptions(level, config, crossAttention))));
    }
  }
  if (level.upsample && to === level.layers) h = g.within('upsamplers', () => g.within(0, () => upsample2D(h, level.outChannels, upsampleSize)));
  return h;
}
