// ColorizeDiffusion's dual-condition UNet (refnet/modules/unet.py `DualCondUNet`) on the UNet's blocks
// (models/unet down/mid/upBlock with the split cross-attention hooked in):
//   h = conv_in(x) + hint_0; down levels, with hint_{i+1} added to h after level i's downsampler (after its
//   last layer for the last level) — added to h itself, so both the skip and the next block see it (unlike
//   ControlNet residuals, which only touch skips); mid; up; head. Every cross-attention is the split one
//   (splitTransformer.ts) reading the same reference tokens and sketch mask; LoRA only where `loraBlocks` says
//   (ColorizeDiffusion v2 injects it into the up path, LDM output_blocks).
// Parameter names are diffusers' (the UNet's), LoRA under attn2.to_{q,k,v}.lora_{down,up}_{fg,bg}.
import type { Graph, Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import type { UNetConfig } from '../unet/config.ts';
import { unetHead, unetStem, unetTimeEmbedding, levelSizes } from '../unet/unet.ts';
import { downBlock } from '../unet/downBlock.ts';
import { midBlock } from '../unet/midBlock.ts';
import { upBlock } from '../unet/upBlock.ts';
import { splitCrossAttentionHook, type SplitAttentionSettings, type SplitReference } from './splitTransformer.ts';

export type UNetPart = 'down' | 'mid' | 'up';

export interface SplitUNetOptions {
  settings: SplitAttentionSettings;
}

export interface SplitUNetInputs {
  sample: Tensor;
  timestep: Tensor;
  reference: SplitReference;
  /** Sketch-encoder hints (sketchEncoder.ts), one per down level plus one; absent = no sketch. */
  hints?: readonly Tensor[];
}

/** Shapes of the hints a UNet takes for a latent of h×w: after conv_in, then one per level. */
export function hintShapes(config: UNetConfig, batch: number, height: number, width: number): number[][] {
  const sizes = levelSizes(config, height, width);
  const shapes = [[batch, config.blockOutChannels[0], height, width]];
  config.down.forEach((d, i) => shapes.push([batch, d.outChannels, ...sizes[d.downsample ? i + 1 : i]]));
  return shapes;
}

export function checkSplitUNetConfig(config: UNetConfig): void {
  if (config.conditioning) throw new Error(`split UNet: ${config.className} has a blueprint embedding; ColorizeDiffusion conditions on sketch-encoder hints instead`);
  if (config.addition) throw new Error('split UNet: SDXL-style "text_time" configs are not supported (ColorizeDiffusion is SD2.1-based)');
}

export function buildSplitUNet(g: Graph, config: UNetConfig, inputs: SplitUNetInputs, opts: SplitUNetOptions): Tensor {
  checkSplitUNetConfig(config);
  const { sample, timestep, reference: ref } = inputs;
  const [b, , h, w] = sample.shape;
  if (sample.shape.length !== 4 || sample.shape[1] !== config.inChannels) throw new Error(`split UNet: sample must be [B,${config.inChannels},h,w], got [${sample.shape.join(',')}]`);
  const expectedHints = hintShapes(config, b, h, w);
  const hints = inputs.hints;
  if (hints) {
    if (hints.length !== expectedHints.length) throw new Error(`split UNet: expected ${expectedHints.length} sketch hints, got ${hints.length}`);
    hints.forEach((t, k) => {
      if (t.shape.join(',') !== expectedHints[k].join(',')) throw new Error(`split UNet: hint ${k} must be [${expectedHints[k].join(',')}], got [${t.shape.join(',')}]`);
    });
  }
  const withHint = (x: Tensor, k: number) => (hints ? op.add(x, hints[k]) : x);
  const attn = splitCrossAttentionHook(ref, opts.settings);
  const ctx = ref.context;

  const emb = unetTimeEmbedding(config, timestep).emb;
  let x = withHint(unetStem(config, sample).out, 0);
  let skips: Tensor[] = [x];
  config.down.forEach((level, i) => {
    // hint i+1 goes after the level's downsampler, or after its last layer when it has none.
    const hint = hints?.[i + 1];
    const residual = level.downsample ? { residualAfterDownsample: hint } : { residualAfterLayers: hint };
    const input = x;
    const r = g.within('down_blocks', () => g.within(i, () => downBlock(input, emb, ctx, level, config, { ...residual, crossAttention: attn })));
    x = r.out;
    skips.push(...r.skips);
  });

  const midIn = x;
  x = g.within('mid_block', () => midBlock(midIn, emb, ctx, config, attn));

  config.up.forEach((level, i) => {
    const mine = skips.slice(skips.length - level.layers);
    skips = skips.slice(0, skips.length - level.layers);
    const size = level.upsample ? ([skips[skips.length - 1].shape[2], skips[skips.length - 1].shape[3]] as const) : undefined;
    const input = x;
    x = g.within('up_blocks', () => g.within(i, () => upBlock(input, mine, emb, ctx, level, config, size, attn)));
  });
  return unetHead(config, x).out;
}
