// diffusers Transformer2DModel / BasicTransformerBlock with attn2 swapped for the split cross-attention:
// the UNet's transformer2D (models/unet/transformer2d.ts) with its `crossAttention` hook, so structure and
// parameter names stay the UNet's (norm, proj_in, transformer_blocks.i.{norm1, attn1, norm2, attn2, norm3,
// ff}, proj_out); only attn2 differs.
import type { Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import type { CrossAttentionHook } from '../unet/transformer2d.ts';
import { resizeBicubic } from './bicubicResize.ts';
import { splitCrossAttention, type ForegroundSelector, type LoraRankFn } from './splitCrossAttention.ts';
import type { ModeFlags } from './modes.ts';

/** The reference side of every cross-attention: tokens, and for split modes the background tokens and sketch mask. */
export interface SplitReference {
  /** Foreground (whole-reference) tokens [B, L, D]. */
  fg: Tensor;
  /** Background tokens [B, L2, D] (split modes). */
  bg?: Tensor;
  /** Sketch foreground mask [B, 1, h, w] at the latent size (split modes). */
  mask?: Tensor;
}

export interface SplitAttentionSettings {
  flags: ModeFlags;
  /** ts_s: sketch-mask threshold. */
  threshold: number;
  ranks?: LoraRankFn;
  referenceScale?: number;
  fgScale?: number;
  bgScale?: number;
  mergeScale?: number;
}

/**
 * The fg/bg selector for a feature map of size h×w: the latent-size mask resized bicubically, flattened to
 * [B, h·w, 1]. `strict` (blocks with LoRA, lora.py): fg where mask > ts; otherwise (attention.py) fg where
 * mask ≥ ts, written as the original does: bg where mask < ts. ts is compared in float32, as torch does.
 */
export function foregroundSelector(mask: Tensor, h: number, w: number, threshold: number, strict: boolean): ForegroundSelector {
  if (mask.shape.length !== 4 || mask.shape[1] !== 1) throw new Error(`sketch mask must be [B,1,h,w], got [${mask.shape.join(',')}]`);
  const resized = op.reshape(resizeBicubic(mask, h, w), [mask.shape[0], h * w, 1]);
  const ts = Math.fround(threshold);
  return strict ? { cond: op.greater(resized, ts), trueBranch: 'fg' } : { cond: op.less(resized, ts), trueBranch: 'bg' };
}

export interface SplitBlockOptions {
  settings: SplitAttentionSettings;
  /** This block's attn2 carries LoRA modules (ColorizeDiffusion v2 injects them into the up path only). */
  loraInjected: boolean;
}

/**
 * attn2 for every transformer of a block: the split cross-attention over the reference tokens (the
 * context the UNet blocks pass in is `ref.fg`), with the fg/bg selector at each transformer's map size.
 */
export function splitCrossAttentionHook(ref: SplitReference, block: SplitBlockOptions): CrossAttentionHook {
  const s = block.settings;
  return (h, w) => {
    let selector: ForegroundSelector | undefined;
    if (s.flags.split) {
      if (!ref.bg || !ref.mask) throw new Error('split attention needs background tokens and a sketch mask');
      selector = foregroundSelector(ref.mask, h, w, s.threshold, block.loraInjected);
    }
    const lora = { fg: block.loraInjected && s.flags.fgLora, bg: block.loraInjected && s.flags.bgLora };
    const split = selector && ref.bg ? { bgContext: ref.bg, selector } : undefined;
    return (x, context, heads) => splitCrossAttention(x, context, { heads, lora, ranks: s.ranks, referenceScale: s.referenceScale, fgScale: s.fgScale, bgScale: s.bgScale, mergeScale: s.mergeScale }, split);
  };
}
