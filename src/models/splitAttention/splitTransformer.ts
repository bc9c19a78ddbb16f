// diffusers Transformer2DModel / BasicTransformerBlock with attn2 swapped for the split cross-attention.
// Same structure and parameter names as models/unet/transformer2d.ts (norm, proj_in, transformer_blocks.i.
// {norm1, attn1, norm2, attn2, norm3, ff}, proj_out); only attn2 differs. The UNet's transformer2D has no
// hook for its cross-attention, so the wrapper is repeated here around the shared pieces.
import type { Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import * as nn from '../../graph/nn.ts';
import { crossAttention, gegluFeedForward, type TransformerOptions } from '../unet/transformer2d.ts';
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

export function splitBasicTransformerBlock(x: Tensor, ref: SplitReference, heads: number, selector: ForegroundSelector | undefined, block: SplitBlockOptions): Tensor {
  const g = x.graph;
  const s = block.settings;
  const n1 = nn.layerNorm(x, 'norm1');
  x = op.add(x, g.within('attn1', () => crossAttention(n1, undefined, heads)));
  const n2 = nn.layerNorm(x, 'norm2');
  const lora = { fg: block.loraInjected && s.flags.fgLora, bg: block.loraInjected && s.flags.bgLora };
  const attnOpts = { heads, lora, ranks: s.ranks, referenceScale: s.referenceScale, fgScale: s.fgScale, bgScale: s.bgScale, mergeScale: s.mergeScale };
  const split = selector && ref.bg ? { bgContext: ref.bg, selector } : undefined;
  x = op.add(x, g.within('attn2', () => splitCrossAttention(n2, ref.fg, attnOpts, split)));
  const n3 = nn.layerNorm(x, 'norm3');
  return op.add(x, g.within('ff', () => gegluFeedForward(n3)));
}

/** x [B,C,H,W] → [B,C,H,W]; params under the current scope (an `attentions.j`). */
export function splitTransformer2D(x: Tensor, ref: SplitReference, opts: TransformerOptions, block: SplitBlockOptions): Tensor {
  const g = x.graph;
  const [b, c, h, w] = x.shape;
  if (ref.fg.shape[2] !== opts.crossAttentionDim) {
    throw new Error(`split transformer: reference width ${ref.fg.shape[2]} does not match cross_attention_dim ${opts.crossAttentionDim}`);
  }
  let selector: ForegroundSelector | undefined;
  if (block.settings.flags.split) {
    if (!ref.bg || !ref.mask) throw new Error('split attention needs background tokens and a sketch mask');
    selector = foregroundSelector(ref.mask, h, w, block.settings.threshold, block.loraInjected);
  }
  const normed = nn.groupNorm(x, 'norm', opts.groups, 1e-6);
  const toTokens = (t: Tensor) => op.reshape(op.transpose(t, [0, 2, 3, 1]), [b, h * w, t.shape[1]]);
  let tokens = opts.useLinearProjection ? nn.linear(toTokens(normed), 'proj_in', c, c) : toTokens(nn.conv2d(normed, 'proj_in', c, c, 1, { padding: 0 }));
  for (let i = 0; i < opts.layers; i++) {
    const t = tokens;
    tokens = g.within('transformer_blocks', () => g.within(i, () => splitBasicTransformerBlock(t, ref, opts.heads, selector, block)));
  }
  const toMap = (t: Tensor) => op.transpose(op.reshape(t, [b, h, w, t.shape[2]]), [0, 3, 1, 2]);
  const out = opts.useLinearProjection ? toMap(nn.linear(tokens, 'proj_out', c, c)) : nn.conv2d(toMap(tokens), 'proj_out', c, c, 1, { padding: 0 });
  return op.add(out, x);
}
