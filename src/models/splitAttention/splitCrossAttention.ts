// ColorizeDiffusion's split cross-attention (refnet/modules/lora.py masked_forward, attention.py
// MemoryEfficientCrossAttention), for one attn2:
//   c1, c2 = chunk(context, 2, tokens)            first half ⌈L/2⌉ tokens, second half the rest
//   bg = attn(q(x), k(c2), v(c2)) · reference_scale · bg_scale     projections with the bg LoRA when on
//   fg = attn(q(x), k(c1), v(c1)) · reference_scale · fg_scale     projections with the fg LoRA when on
//   fg = fg·(1 − merge) + bg·merge                  (skipped when merge = 0: fg·1 + bg·0 = fg)
//   out = to_out(where(foreground(mask), fg, bg))   the selection happens before to_out
// Without a mask it is plain attention · reference_scale → to_out. A LoRA projection is W·x + up(down(x))
// (the LoRA's own scale stays 1: the original never calls adjust_lora_scales at inference).
import type { Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import * as nn from '../../graph/nn.ts';

export type LoraBranch = 'fg' | 'bg';
/** The LoRA rank of one projection: `linear` is its full parameter prefix (e.g. "up_blocks.1.….attn2.to_k"). */
export type LoraRankFn = (linear: string, branch: LoraBranch, inFeatures: number, outFeatures: number) => number;

/** The original's defaults (SplitLoraInjectedLinear): fg rank 4 (an int), bg rank int(0.5·min(in, out)). */
export const defaultLoraRank: LoraRankFn = (_linear, branch, inF, outF) => (branch === 'fg' ? 4 : Math.floor(0.5 * Math.min(inF, outF)));

/** Which positions take the foreground branch: `cond` [B,S,1] bool, meaning fg when true (or bg when true). */
export interface ForegroundSelector {
  cond: Tensor;
  trueBranch: LoraBranch;
}

/** Names of the traced intermediate tensors (the golden's attn*_x, _attn, _fg_attn, _bg_attn, _out). */
export type AttentionTraceKind = 'x' | 'attn' | 'fg_attn' | 'bg_attn' | 'mask_resized' | 'out';
export type AttentionTrace = (kind: AttentionTraceKind, t: Tensor) => void;

export interface SplitAttentionOptions {
  heads: number;
  /** LoRA on for each branch (a branch whose LoRA is off uses the plain projections). */
  lora: { fg: boolean; bg: boolean };
  ranks?: LoraRankFn;
  /** Attention output scale (the original's per-block reference_scale, the demo's "reference strength"); 1 by default. */
  referenceScale?: number;
  /** Foreground / background strength (fg_scale, bg_scale); 1 by default. */
  fgScale?: number;
  bgScale?: number;
  /** Share of the background result mixed into the foreground one (merge_scale); 0 by default. */
  mergeScale?: number;
  trace?: AttentionTrace;
}

/** A bias-free projection with an optional LoRA of `branch`: y = W·x + up(down(x)). */
export function loraProjection(x: Tensor, name: string, inF: number, outF: number, branch: LoraBranch | undefined, ranks: LoraRankFn): Tensor {
  const g = x.graph;
  const base = nn.linear(x, name, inF, outF, false);
  if (!branch) return base;
  const rank = ranks(g.scoped(name), branch, inF, outF);
  if (!Number.isInteger(rank) || rank < 1) throw new Error(`LoRA rank of ${g.scoped(name)} (${branch}) must be a positive integer, got ${rank}`);
  const delta = g.within(name, () => nn.linear(nn.linear(x, `lora_down_${branch}`, inF, rank, false), `lora_up_${branch}`, rank, outF, false));
  return op.add(base, delta);
}

const scaled = (t: Tensor, s: number) => (s === 1 ? t : op.mul(t, s));

/** torch.chunk(2) along tokens: the first part takes ⌈L/2⌉. */
export function chunkTokens(context: Tensor): [Tensor, Tensor] {
  const l = context.shape[1];
  if (l < 2) throw new Error(`split attention: the context needs at least 2 tokens to split in halves, got ${l}`);
  const half = Math.ceil(l / 2);
  return [op.slice(context, [1], [0], [half]), op.slice(context, [1], [half], [l])];
}

/**
 * Cross-attention of x [B,S,C] over context [B,L,D], params under the current scope (an `attn2`).
 * Without `selector` it is plain attention over the whole context; with it, the two branches above.
 */
export function splitCrossAttention(x: Tensor, context: Tensor, opts: SplitAttentionOptions, selector?: ForegroundSelector): Tensor {
  const g = x.graph;
  const dim = x.shape[2];
  const ranks = opts.ranks ?? defaultLoraRank;
  const refScale = opts.referenceScale ?? 1;
  const trace = opts.trace;
  trace?.('x', x);
  const attend = (ctx: Tensor, lora: LoraBranch | undefined): Tensor => {
    const cdim = ctx.shape[2];
    const q = loraProjection(x, 'to_q', dim, dim, lora, ranks);
    const k = loraProjection(ctx, 'to_k', cdim, dim, lora, ranks);
    const v = loraProjection(ctx, 'to_v', cdim, dim, lora, ranks);
    return scaled(nn.attention(q, k, v, opts.heads), refScale);
  };
  let out: Tensor;
  if (!selector) {
    out = attend(context, opts.lora.fg ? 'fg' : undefined);
    trace?.('attn', out);
  } else {
    const sel = selector.cond.shape;
    if (sel.length !== 3 || sel[0] !== x.shape[0] || (sel[1] !== x.shape[1] && sel[1] !== 1) || sel[2] !== 1) {
      throw new Error(`split attention: mask selector must be [${x.shape[0]},${x.shape[1]},1], got [${sel.join(',')}]`);
    }
    const [c1, c2] = chunkTokens(context);
    const bgAttn = attend(c2, opts.lora.bg ? 'bg' : undefined);
    const fgAttn = attend(c1, opts.lora.fg ? 'fg' : undefined);
    trace?.('bg_attn', bgAttn);
    trace?.('fg_attn', fgAttn);
    const bg = scaled(bgAttn, opts.bgScale ?? 1);
    let fg = scaled(fgAttn, opts.fgScale ?? 1);
    const merge = opts.mergeScale ?? 0;
    if (merge !== 0) fg = op.add(scaled(fg, 1 - merge), scaled(bg, merge));
    out = selector.trueBranch === 'fg' ? op.where(selector.cond, fg, bg) : op.where(selector.cond, bg, fg);
  }
  const y = g.within('to_out', () => nn.linear(out, '0', dim, dim));
  trace?.('out', y);
  return y;
}
