// ColorizeDiffusion's background path for the split attention (refnet/models/switch.py prepare_conditions with
// bg_enhance, refnet/modules/embedder.py ScalarEmbedder, refnet/modules/proj.py ClusterTransformer):
//   th_r, th_s = thresh_embedder([ts_r, ts_s])   sinusoidal(256) → Linear → SiLU → Linear   (one token each)
//   bg' = transformer(local(masked reference) + th_r)
//   fg' = local(reference) + th_s
//   context = concat(fg', bg') along tokens
// transformer (ClusterTransformer): x = embedding [Q, D] (learned queries), then per layer
//   x = attn(LN_0(x), e) + x;  x = ff(LN_1(x)) + x,  attn = cross-attention (to_q/k/v without bias, to_out.0),
//   ff = Linear(D, rD) → SiLU → Linear(rD, D); the context e is NOT normalised. The attention is
//   MemoryEfficientCrossAttention(heads = D // dim_head) built without its own dim_head, so each head is 64
//   wide whatever dim_head says: inner width = 64·heads, read from to_q's rows (1024 → 16 heads released).
// Parameter names as in the released single files: `thresh_embedder.embed_layer.{0,2}`,
// `transformer.embedding`, `transformer.layers.i.{0,1,2.to_q,2.to_k,2.to_v,2.to_out.0,3.0,3.2}`.
import { createGraph, type Graph, type Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import * as nn from '../../graph/nn.ts';
import type { WeightStore } from '../../graph/weights.ts';

export const THRESH_EMBEDDER_PREFIX = 'thresh_embedder.';
export const BACKGROUND_TRANSFORMER_PREFIX = 'transformer.';

/** Sizes read from the weights. */
export interface BackgroundEncoderShape {
  /** Token width D (the UNet's cross_attention_dim). */
  dim: number;
  /** Learned query tokens Q (256 released). */
  queries: number;
  layers: number;
  /** Feed-forward hidden width (4·D released). */
  hidden: number;
  /** Width of the sinusoidal threshold features (256 released). */
  thresholdFeatures: number;
  heads: number;
  /** Attention inner width (heads · 64). */
  inner: number;
}

/** MemoryEfficientCrossAttention's default head width, which ClusterTransformer keeps. */
const HEAD_WIDTH = 64;

/** Reads the background encoder's sizes from the weights; undefined when the file has none. */
export function backgroundEncoderShape(store: WeightStore, heads?: number): BackgroundEncoderShape | undefined {
  const emb = store.get(`${BACKGROUND_TRANSFORMER_PREFIX}embedding`);
  const th = store.get(`${THRESH_EMBEDDER_PREFIX}embed_layer.0.weight`);
  if (!emb || !th) return undefined;
  if (store.get(`${BACKGROUND_TRANSFORMER_PREFIX}proj.weight`)) throw new Error('background transformer with a projection head (projection_head > 0) is not supported');
  let layers = 0;
  while (store.get(`${BACKGROUND_TRANSFORMER_PREFIX}layers.${layers}.0.weight`)) layers++;
  const ff = store.get(`${BACKGROUND_TRANSFORMER_PREFIX}layers.0.3.0.weight`);
  const [queries, dim] = emb.shape;
  const q = store.get(`${BACKGROUND_TRANSFORMER_PREFIX}layers.0.2.to_q.weight`);
  const inner = q ? q.shape[0] : dim;
  return { dim, queries, layers, hidden: ff ? ff.shape[0] : 4 * dim, thresholdFeatures: th.shape[1], heads: heads ?? Math.max(1, Math.floor(inner / HEAD_WIDTH)), inner };
}

/**
 * Sinusoidal features of scalars, as refnet.ldm.util.timestep_embedding computes them in float32:
 * freqs = exp(−ln(10000)·k/half), [cos(t·freqs), sin(t·freqs)] (+ a zero column for odd widths).
 */
export function thresholdFeatures(values: readonly number[], width: number): Float32Array {
  const f = Math.fround;
  const half = Math.floor(width / 2);
  const out = new Float32Array(values.length * width);
  values.forEach((t, r) => {
    for (let k = 0; k < half; k++) {
      const freq = f(Math.exp(f(f(-Math.log(10000) * k) / half)));
      const arg = f(f(t) * freq);
      out[r * width + k] = Math.cos(arg);
      out[r * width + half + k] = Math.sin(arg);
    }
  });
  return out;
}

/** ScalarEmbedder's MLP on [N, E] features → [N, D]; params under the current scope (`thresh_embedder`). */
function thresholdEmbedding(features: Tensor, shape: BackgroundEncoderShape): Tensor {
  const g = features.graph;
  return g.within('embed_layer', () => nn.linear(nn.silu(nn.linear(features, '0', shape.thresholdFeatures, shape.dim)), '2', shape.dim, shape.dim));
}

/** ClusterTransformer on context e [B, L, D] → [B, Q, D]; params under the current scope (`transformer`). */
export function clusterTransformer(e: Tensor, shape: BackgroundEncoderShape): Tensor {
  const g = e.graph;
  const { dim: d, queries: q, hidden, inner } = shape;
  const b = e.shape[0];
  let x = op.expand(op.reshape(g.param('embedding', [q, d]), [1, q, d]), [b, q, d]);
  for (let i = 0; i < shape.layers; i++) {
    x = g.within('layers', () => g.within(i, () => {
      const n0 = nn.layerNorm(x, '0');
      const attn = g.within('2', () => {
        const o = nn.attention(nn.linear(n0, 'to_q', d, inner, false), nn.linear(e, 'to_k', e.shape[2], inner, false), nn.linear(e, 'to_v', e.shape[2], inner, false), shape.heads);
        return g.within('to_out', () => nn.linear(o, '0', inner, d));
      });
      const y = op.add(x, attn);
      const n1 = nn.layerNorm(y, '1');
      const ff = g.within('3', () => nn.linear(nn.silu(nn.linear(n1, '0', d, hidden)), '2', hidden, d));
      return op.add(y, ff);
    }));
  }
  return x;
}

/**
 * The background path of bg_enhance / fig2fig. Inputs: `tokens` [B,L,D] (local tokens of the reference),
 * `background_tokens` [B,L2,D] (local tokens of the masked reference), `threshold_features` [2,E]
 * (thresholdFeatures([ts_r, ts_s])). Outputs `threshold_embedding` [2,1,D] (th(ts_r), th(ts_s)),
 * `background_input` = background_tokens + th(ts_r), `background_output` = transformer(background_input)
 * [B,Q,D] and `foreground` = tokens + th(ts_s).
 */
export function buildReferenceContextGraph(shape: BackgroundEncoderShape, batch: number, tokens: number, backgroundTokens: number): Graph {
  const g = createGraph('colorize-reference-context');
  const d = shape.dim;
  const fg = g.input('tokens', 'f32', [batch, tokens, d]);
  const bg = g.input('background_tokens', 'f32', [batch, backgroundTokens, d]);
  const feats = g.input('threshold_features', 'f32', [2, shape.thresholdFeatures]);
  const th = g.within('thresh_embedder', () => thresholdEmbedding(feats, shape)); // [2, D]: ts_r, ts_s
  const thR = op.reshape(op.slice(th, [0], [0], [1]), [1, 1, d]);
  const thS = op.reshape(op.slice(th, [0], [1], [2]), [1, 1, d]);
  const bgIn = op.add(bg, thR);
  g.output('threshold_embedding', op.reshape(th, [2, 1, d]));
  g.output('background_input', bgIn);
  g.output('background_output', g.within('transformer', () => clusterTransformer(bgIn, shape)));
  g.output('foreground', op.add(fg, thS));
  return g;
}
