// diffusers Transformer2DModel (continuous input) with BasicTransformerBlocks:
//   x → GroupNorm(eps 1e-6) → proj_in (1×1 conv, or Linear after flattening when use_linear_projection)
//     → blocks: x += attn1(norm1 x) [self]; x += attn2(norm2 x, context) [cross]; x += ff(norm3 x) [GEGLU]
//     → proj_out → + residual.
// Attention: to_q/to_k/to_v without bias, to_out.0 with bias, scale 1/√head_dim. upcast_attention only
// changes f16 execution (scores in f32); these graphs run in f32, so it has no effect here.
// attn2 can be swapped (`crossAttention` hook) for variants that change only the cross-attention, such as
// ColorizeDiffusion's split attention (models/splitAttention), so they reuse every block as it is.
import type { Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import * as nn from '../../graph/nn.ts';
import type { UNetConfig } from './config.ts';

/** attn2 of a BasicTransformerBlock: normed tokens [B, h·w, C] and the context → [B, h·w, C], in the `attn2` scope. */
export type CrossAttentionFn = (x: Tensor, context: Tensor, heads: number) => Tensor;

/** Makes attn2 for one Transformer2DModel whose feature map is h×w (called once, before its blocks). */
export type CrossAttentionHook = (h: number, w: number) => CrossAttentionFn;

export interface TransformerOptions {
  heads: number;
  /** Transformer blocks (transformer_layers_per_block). */
  layers: number;
  groups: number;
  useLinearProjection: boolean;
  crossAttentionDim: number;
  /** Replaces diffusers' attn2 (`crossAttention` below); parameter names stay under attn2. */
  crossAttention?: CrossAttentionHook;
}

/** A UNet level's transformer: heads, depth and context width from the level, norm and projection from the config. */
export function levelTransformerOptions(level: { heads: number; transformerLayers: number; crossAttentionDim: number }, config: UNetConfig, crossAttention?: CrossAttentionHook): TransformerOptions {
  return {
    heads: level.heads, layers: level.transformerLayers, groups: config.normNumGroups,
    useLinearProjection: config.useLinearProjection, crossAttentionDim: level.crossAttentionDim, crossAttention,
  };
}

/** diffusers Attention (query_dim = x width); `context` defaults to x (self-attention). */
export function crossAttention(x: Tensor, context: Tensor | undefined, heads: number): Tensor {
  const dim = x.shape[2];
  const ctx = context ?? x;
  const ctxDim = ctx.shape[2];
  const q = nn.linear(x, 'to_q', dim, dim, false);
  const k = nn.linear(ctx, 'to_k', ctxDim, dim, false);
  const v = nn.linear(ctx, 'to_v', ctxDim, dim, false);
  const a = nn.attention(q, k, v, heads);
  return x.graph.within('to_out', () => nn.linear(a, '0', dim, dim));
}

/** FeedForward with GEGLU (mult 4): net.0.proj → split → hidden·gelu(gate) → net.2. */
export function gegluFeedForward(x: Tensor): Tensor {
  const g = x.graph;
  const dim = x.shape[2];
  const inner = dim * 4;
  const h = g.within('net', () => g.within('0', () => nn.linear(x, 'proj', dim, inner * 2)));
  const hidden = op.slice(h, [2], [0], [inner]);
  const gate = op.slice(h, [2], [inner], [inner * 2]);
  return g.within('net', () => nn.linear(op.mul(hidden, nn.gelu(gate)), '2', inner, dim));
}

export function basicTransformerBlock(x: Tensor, context: Tensor, heads: number, attn2: CrossAttentionFn = crossAttention): Tensor {
  const g = x.graph;
  // Norms live beside (not inside) the attention modules: norm1, attn1, norm2, attn2, norm3, ff.
  const n1 = nn.layerNorm(x, 'norm1');
  x = op.add(x, g.within('attn1', () => crossAttention(n1, undefined, heads)));
  const n2 = nn.layerNorm(x, 'norm2');
  x = op.add(x, g.within('attn2', () => attn2(n2, context, heads)));
  const n3 = nn.layerNorm(x, 'norm3');
  return op.add(x, g.within('ff', () => gegluFeedForward(n3)));
}

/** x [B,C,H,W], context [B,L,D] → [B,C,H,W]. */
export function transformer2D(x: Tensor, context: Tensor, opts: TransformerOptions): Tensor {
  const g = x.graph;
  const [b, c, h, w] = x.shape;
  if (context.shape[2] !== opts.crossAttentionDim) {
    throw new Error(`transformer2D: encoder_hidden_states width ${context.shape[2]} does not match cross_attention_dim ${opts.crossAttentionDim}`);
  }
  const attn2 = opts.crossAttention?.(h, w) ?? crossAttention;
  const inner = c; // heads × head_dim = channels in every UNet transformer
  const normed = nn.groupNorm(x, 'norm', opts.groups, 1e-6);
  const toTokens = (t: Tensor) => op.reshape(op.transpose(t, [0, 2, 3, 1]), [b, h * w, t.shape[1]]);
  let tokens = opts.useLinearProjection
    ? nn.linear(toTokens(normed), 'proj_in', c, inner)
    : toTokens(nn.conv2d(normed, 'proj_in', c, inner, 1, { padding: 0 }));
  for (let i = 0; i < opts.layers; i++) {
    tokens = g.within('transformer_blocks', () => g.within(i, () => basicTransformerBlock(tokens, context, opts.heads, attn2)));
  }
  const toMap = (t: Tensor) => op.transpose(op.reshape(t, [b, h, w, t.shape[2]]), [0, 3, 1, 2]);
  const out = opts.useLinearProjection
    ? toMap(nn.linear(tokens, 'proj_out', inner, c))
    : nn.conv2d(toMap(tokens), 'proj_out', inner, c, 1, { padding: 0 });
  return op.add(out, x);
}
