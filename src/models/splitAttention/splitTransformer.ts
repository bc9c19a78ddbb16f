// diffusers Transformer2DModel / BasicTransformerBlock with attn2 swapped for the split cross-attention:
// the UNet's transformer2D (models/unet/transformer2d.ts) with its `crossAttention` hook, so structure and
// parameter names stay the UNet's (norm, proj_in, transformer_blocks.i.{norm1, attn1, norm2, attn2, norm3,
// ff}, proj_out); only attn2 differs.
import type { Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import type { CrossAttentionHook } from '../unet/transformer2d.ts';
import { resizeBicubic } from './bicubicResize.ts';
import { splitCrossAttention, type AttentionTraceKind, type ForegroundSelector, type LoraRankFn } from './splitCrossAttention.ts';
import type { ModeFlags } from './modes.ts';

/** The reference side of every cross-attention. */
export interface SplitReference {
  /** Context tokens [B, L, D] (split modes: both halves, see modes.ts). */
  context: Tensor;
  /** Sketch foreground mask [B, 1, h, w] at the latent size (split modes). */
  mask?: Tensor;
}

/** Receives traced tensors by attn2 path (diffusers names, e.g. "down_blocks.1.attentions.0.transformer_blocks.0.attn2"). */
export type SplitTraceSink = (attn2: string, kind: AttentionTraceKind, t: Tensor) => void;

export interface SplitAttentionSettings {
  flags: ModeFlags;
  /** ts_s: sketch-mask threshold. */
  threshold: number;
  ranks?: LoraRankFn;
  /** Per-attn2 reference scale (by path), or one for all; 1 by default. */
  referenceScale?: number | ((attn2: string) => number);
  fgScale?: number;
  bgScale?: number;
  mergeScale?: number;
  /** Which attn2 modules carry LoRA (by path). */
  loraAt: (attn2: string) => boolean;
  /** attn2 paths to trace, and where the traced tensors go. */
  trace?: { at: ReadonlySet<string>; sink: SplitTraceSink };
}

/**
 * The fg/bg selector for a feature map of size h×w: the latent-size mask resized bicubically (values may leave
 * [0, 1]), flattened to [B, h·w, 1]. The original resizes with a fixed scale_factor per attention (1, ½, ¼, ⅛
 * by level); with latents whose sides are multiples of 8 that is exactly the feature map's size, and torch's
 * source coordinates (dst + ½)/factor − ½ equal ours. `strict` (blocks with LoRA, lora.py): fg where
 * mask > ts; otherwise (attention.py): bg where mask < ts. ts is compared in float32, as torch does.
 */
export function foregroundSelector(mask: Tensor, h: number, w: number, threshold: number, strict: boolean): { selector: ForegroundSelector; resized: Tensor } {
  if (mask.shape.length !== 4 || mask.shape[1] !== 1) throw new Error(`sketch mask must be [B,1,h,w], got [${mask.shape.join(',')}]`);
  const resized = resizeBicubic(mask, h, w);
  const flat = op.reshape(resized, [mask.shape[0], h * w, 1]);
  const ts = Math.fround(threshold);
  const selector: ForegroundSelector = strict ? { cond: op.greater(flat, ts), trueBranch: 'fg' } : { cond: op.less(flat, ts), trueBranch: 'bg' };
  return { selector, resized };
}

/** attn2 for every transformer of a block: the split cross-attention over the context, selector at each map size. */
export function splitCrossAttentionHook(ref: SplitReference, s: SplitAttentionSettings): CrossAttentionHook {
  return (h, w) => (x, context, heads) => {
    const path = x.graph.scoped('').replace(/\.$/, '');
    const injected = s.loraAt(path);
    const traced = s.trace?.at.has(path) ? s.trace : undefined;
    const trace = traced ? (kind: AttentionTraceKind, t: Tensor) => traced.sink(path, kind, t) : undefined;
    let selector: ForegroundSelector | undefined;
    if (s.flags.split) {
      if (!ref.mask) throw new Error('split attention needs a sketch mask');
      const r = foregroundSelector(ref.mask, h, w, s.threshold, injected);
      selector = r.selector;
      trace?.('mask_resized', r.resized);
    }
    const lora = { fg: injected && s.flags.fgLora, bg: injected && s.flags.bgLora };
    const referenceScale = typeof s.referenceScale === 'function' ? s.referenceScale(path) : s.referenceScale;
    return splitCrossAttention(x, context, { heads, lora, ranks: s.ranks, referenceScale, fgScale: s.fgScale, bgScale: s.bgScale, mergeScale: s.mergeScale, trace }, selector);
  };
}
