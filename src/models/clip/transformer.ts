// The CLIP encoder layer shared by the text and vision towers (transformers CLIPEncoderLayer):
// pre-LN self-attention and MLP, each with a residual. The text tower's causal mask needs an explicit
// attention (the fused op has no mask); unmasked attention uses the fused op.
import type { Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import { attention, gelu, layerNorm, linear, quickGelu } from '../../graph/nn.ts';
import type { ClipActivation } from './config.ts';

export interface ClipLayerSpec {
  hidden: number;
  heads: number;
  intermediate: number;
  act: ClipActivation;
  eps: number;
}

function activation(x: Tensor, act: ClipActivation): Tensor {
  if (act === 'quick_gelu') return quickGelu(x);
  if (act === 'gelu') return gelu(x);
  return gelu(x, 'tanh');
}

/** Additive causal mask [1,1,S,S]: 0 on and below the diagonal, float32 min above (as transformers builds it). */
function causalMask(like: Tensor, s: number): Tensor {
  const m = new Float32Array(s * s);
  for (let i = 0; i < s; i++) for (let j = i + 1; j < s; j++) m[i * s + j] = -3.4028234663852886e38;
  return op.constant(like, m, [1, 1, s, s]);
}

/** softmax(q·kᵀ·scale + mask)·v over heads; q, k, v [B,S,D]. */
function maskedAttention(q: Tensor, k: Tensor, v: Tensor, heads: number, mask: Tensor): Tensor {
  const [b, s, d] = q.shape;
  const dh = d / heads;
  const split = (t: Tensor, perm: number[]) => op.transpose(op.reshape(t, [b, s, heads, dh]), perm);
  const scores = op.add(op.mul(op.matmul(split(q, [0, 2, 1, 3]), split(k, [0, 2, 3, 1])), 1 / Math.sqrt(dh)), mask);
  const out = op.matmul(op.softmax(scores, -1), split(v, [0, 2, 1, 3]));
  return op.reshape(op.transpose(out, [0, 2, 1, 3]), [b, s, d]);
}

/** One CLIPEncoderLayer named `name` (e.g. "layers.3") on x [B,S,D]. */
export function clipEncoderLayer(x: Tensor, name: string, spec: ClipLayerSpec, causal: boolean): Tensor {
  const g = x.graph;
  const d = spec.hidden;
  return g.within(name, () => {
    const h = layerNorm(x, 'layer_norm1', spec.eps);
    const attn = g.within('self_attn', () => {
      const q = linear(h, 'q_proj', d, d);
      const k = linear(h, 'k_proj', d, d);
      const v = linear(h, 'v_proj', d, d);
      const o = causal ? maskedAttention(q, k, v, spec.heads, causalMask(x, x.shape[1])) : attention(q, k, v, spec.heads);
      return linear(o, 'out_proj', d, d);
    });
    const mid = op.add(x, attn);
    const h2 = layerNorm(mid, 'layer_norm2', spec.eps);
    const m = g.within('mlp', () => linear(activation(linear(h2, 'fc1', d, spec.intermediate), spec.act), 'fc2', spec.intermediate, d));
    return op.add(mid, m);
  });
}
