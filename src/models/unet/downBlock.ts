// diffusers CrossAttnDownBlock2D / DownBlock2D: `layers` × (resnet [+ transformer]), then an optional
// downsampler. Returns the block output and the skip states the up path consumes (one per layer, plus
// the downsampled state), in diffusers' order.
import type { Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import type { DownLevel, UNetConfig } from './config.ts';
import { resnetBlock2D } from './resnetBlock.ts';
import { levelTransformerOptions, transformer2D, type CrossAttentionHook } from './transformer2d.ts';
import { downsample2D } from './downsample.ts';

export interface DownBlockResult {
  out: Tensor;
  skips: Tensor[];
}

export interface DownBlockExtras {
  /** Added after the last layer, before its skip is recorded (T2I-Adapter, as diffusers does; ColorizeDiffusion's hint on a level without downsampler). */
  residualAfterLayers?: Tensor;
  /** Added to the downsampler's output before its skip is recorded (ColorizeDiffusion's sketch hint). */
  residualAfterDownsample?: Tensor;
  crossAttention?: CrossAttentionHook;
  /** Build only the first n layers, not the downsampler (step caching's shallow UNet needs no deeper state). */
  onlyLayers?: number;
}

/** Params under the current scope (`down_blocks.i`). */
export function downBlock(x: Tensor, temb: Tensor, context: Tensor | undefined, level: DownLevel, config: UNetConfig, extras: DownBlockExtras = {}): DownBlockResult {
  const g = x.graph;
  const skips: Tensor[] = [];
  let h = x;
  const layers = extras.onlyLayers ?? level.layers;
  for (let j = 0; j < layers; j++) {
    h = g.within('resnets', () => g.within(j, () => resnetBlock2D(h, temb, { outChannels: level.outChannels, groups: config.normNumGroups, eps: config.normEps })));
    if (level.attention) {
      if (!context) throw new Error('downBlock: a cross-attention block needs encoder_hidden_states');
      const ctx = context;
      h = g.within('attentions', () => g.within(j, () => transformer2D(h, ctx, levelTransformerOptions(level, config, extras.crossAttention))));
    }
    if (extras.residualAfterLayers && j === level.layers - 1) h = op.add(h, extras.residualAfterLayers);
    skips.push(h);
  }
  if (level.downsample && extras.onlyLayers === undefined) {
    h = g.within('downsamplers', () => g.within(0, () => downsample2D(h, level.outChannels, config.downsamplePadding)));
    if (extras.residualAfterDownsample) h = op.add(h, extras.residualAfterDownsample);
    skips.push(h);
  }
  return { out: h, skips };
}
