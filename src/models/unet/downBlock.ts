// diffusers CrossAttnDownBlock2D / DownBlock2D: `layers` × (resnet [+ transformer]), then an optional
// downsampler. Returns the block output and the skip states the up path consumes (one per layer, plus
// the downsampled state), in diffusers' order.
import type { Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import type { DownLevel, UNetConfig } from './config.ts';
import { resnetBlock2D } from './resnetBlock.ts';
import { transformer2D } from './transformer2d.ts';
import { downsample2D } from './downsample.ts';

export interface DownBlockResult {
  out: Tensor;
  skips: Tensor[];
}

/**
 * Params under the current scope (`down_blocks.i`). `adapterResidual` (T2I-Adapter) is added after the
 * last layer, before the skip is recorded, as diffusers does.
 */
export function downBlock(x: Tensor, temb: Tensor, context: Tensor | undefined, level: DownLevel, config: UNetConfig, adapterResidual?: Tensor): DownBlockResult {
  const g = x.graph;
  const skips: Tensor[] = [];
  let h = x;
  for (let j = 0; j < level.layers; j++) {
    h = g.within('resnets', () => g.within(j, () => resnetBlock2D(h, temb, { outChannels: level.outChannels, groups: config.normNumGroups, eps: config.normEps })));
    if (level.attention) {
      if (!context) throw new Error('downBlock: a cross-attention block needs encoder_hidden_states');
      const ctx = context;
      h = g.within('attentions', () => g.within(j, () => transformer2D(h, ctx, {
        heads: level.heads, layers: level.transformerLayers, groups: config.normNumGroups,
        useLinearProjection: config.useLinearProjection, crossAttentionDim: level.crossAttentionDim,
      })));
    }
    if (adapterResidual && j === level.layers - 1) h = op.add(h, adapterResidual);
    skips.push(h);
  }
  if (level.downsample) {
    h = g.within('downsamplers', () => g.within(0, () => downsample2D(h, level.outChannels, config.downsamplePadding)));
    skips.push(h);
  }
  return { out: h, skips };
}
