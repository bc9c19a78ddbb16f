// ColorizeDiffusion's split cross-attention (tellurion-kanata/colorizeDiffusion, refnet/modules/lora.py
// `masked_forward` + `SplitLoraInjectedLinear`, and refnet/modules/attention.py for blocks without LoRA):
//   P_b(y) = W·y + up_b(down_b(y))            b ∈ {fg, bg}; the LoRA term only when branch b's LoRA is on
//   bg = Attn(P_bg^q(x), P_bg^k(c_bg), P_bg^v(c_bg)) · s_ref · s_bg
//   fg = Attn(P_fg^q(x), P_fg^k(c_fg), P_fg^v(c_fg)) · s_ref · s_fg
//   fg ← fg·(1 − merge) + bg·merge
//   out = to_out(where(mask > ts_s, fg, bg))   [LoRA blocks; blocks without LoRA select fg when mask ≥ ts_s]
// LoRA sits on to_q, to_k and to_v only (the original injects nothing into to_out), without bias (the SD
// projections have none), under the module names lora_down_fg / lora_up_fg / lora_down_bg / lora_up_bg.
// Unsplit (Vanilla): out = to_out(Attn(W_q x, W_k c, W_v c) · s_ref), i.e. diffusers' attention.
import type { Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import * as nn from '../../graph/nn.ts';

export type LoraBranch = 'fg' | 'bg';

/** The LoRA rank of one projection: `linear` is its full parameter prefix (e.g. "up_blocks.1.….attn2.to_k"). */
export type LoraRankFn = (linear: string, branch: LoraBranch, inFeatures: number, outFeatures: number) => number;

/** The original's defaults: fg rank 4 (an int), bg rank int(0.5·min(in, out)) (a float ratio). */
export const defaultLoraRank: LoraRankFn = (_linear, branch, inF, outF) => (branch === 'fg' ? 4 : Math.floor(0.5 * Math.min(inF, outF)));

/** Which positions take the foreground branch: `cond` [B,S,1] bool, meaning fg when true (or bg when true). */
export interface ForegroundSelector {
  cond: Tensor;
  trueBranch: LoraBranch;
}

export interface SplitAttentionOptions {
  heads: number;
  /** LoRA on for each branch (a branch whose LoRA is off uses the plain projections). */
  lora: { fg: boolean; bg: boolean };
  ranks?: LoraRankFn;
  /** Attention output scale (the original's reference_scale, "reference strength"); 1 by default. */
  referenceScale?: number;
  /** Foreground / background strength (fg_scale, bg_scale); 1 by default. */
  fgScale?: number;
  bgScale?: number;
  /** Share of the background result mixed into the foreground one (merge_scale); 0 by default. */
  mergeScale?: number;
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

/**
 * Cross-attention of x [B,S,C] over reference tokens, params under the current scope (an `attn2`).
 * Without `split` it is plain attention over `fgContext`; with it, the two branches above.
 */
export function splitCrossAttention(
  x: Tensor,
  fgContext: Tensor,
  opts: SplitAttentionOptions,
  split?: { bgContext: Tensor; selector: ForegroundSelector },
): Tensor {
  const g = x.graph;
  const dim = x.shape[2];
  const ranks = opts.ranks ?? defaultLoraRank;
  const refScale = opts.referenceScale ?? 1;
  const branch = (ctx: Tensor, lora: LoraBranch | undefined): Tensor => {
    const cdim = ctx.shape[2];
    const q = loraProjection(x, 'to_q', dim, dim, lora, ranks);
    const k = loraProjection(ctx, 'to_k', cdim, dim, lora, ranks);
    const v = loraProjection(ctx, 'to_v', cdim, dim, lora, ranks);
    return nn.attention(q, k, v, opts.heads);
  };
  let out: Tensor;
  if (!split) {
    out = scaled(branch(fgContext, opts.lora.fg ? 'fg' : undefined), refScale);
  } else {
    const { bgContext, selector } = split;
    if (bgContext.shape[0] !== x.shape[0] || bgContext.shape[2] !== fgContext.shape[2]) {
      throw new Error(`split attention: background tokens [${bgContext.shape.join(',')}] do not match foreground tokens [${fgContext.shape.join(',')}]`);
    }
    const sel = selector.cond.shape;
    if (sel.length !== 3 || sel[0] !== x.shape[0] || sel[1] !== x.shape[1] || sel[2] !== 1) {
      throw new Error(`split attention: mask selector must be [${x.shape[0]},${x.shape[1]},1], got [${sel.join(',')}]`);
    }
    const bg = scaled(scaled(branch(bgContext, opts.lora.bg ? 'bg' : undefined), refScale), opts.bgScale ?? 1);
    let fg = scaled(scaled(branch(fgContext, opts.lora.fg ? 'fg' : undefined), refScale), opts.fgScale ?? 1);
    const merge = opts.mergeScale ?? 0;
    if (merge !== 0) fg = op.add(scaled(fg, 1 - merge), scaled(bg, merge));
    out = selector.trueBranch === 'fg' ? op.where(selector.cond, fg, bg) : op.where(selector.cond, bg, fg);
  }
  return g.within('to_out', () => nn.linear(out, '0', dim, dim));
}
