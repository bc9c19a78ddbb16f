// The VAE's building blocks, named like diffusers' modules so parameters bind by key: ResnetBlock2D without
// a time embedding, the single-head mid-block attention (diffusers Linear to_q/to_k/to_v/to_out.0), and the
// encoder's asymmetric-padded downsampler and the decoder's nearest ×2 upsampler.
import type { Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import { attention, conv2d, groupNorm, linear, silu } from '../../graph/nn.ts';

/** Every norm inside diffusers' AutoencoderKL uses eps 1e-6. */
export const VAE_NORM_EPS = 1e-6;

/** ResnetBlock2D(temb=None): norm1 → SiLU → conv1 → norm2 → SiLU → conv2, plus a 1×1 shortcut when widths differ. */
export function vaeResnet(x: Tensor, name: string, outC: number, groups: number): Tensor {
  const g = x.graph;
  const inC = x.shape[1];
  return g.within(name, () => {
    let h = silu(groupNorm(x, 'norm1', groups, VAE_NORM_EPS));
    h = conv2d(h, 'conv1', inC, outC, 3);
    h = silu(groupNorm(h, 'norm2', groups, VAE_NORM_EPS));
    h = conv2d(h, 'conv2', outC, outC, 3);
    const skip = inC === outC ? x : conv2d(x, 'conv_shortcut', inC, outC, 1);
    return op.add(skip, h);
  });
}

/**
 * The mid-block self-attention over all H·W positions, one head of width C (diffusers
 * `Attention(..., heads=1, dim_head=C, residual_connection=True)`).
 */
export function vaeAttention(x: Tensor, name: string, groups: number): Tensor {
  const g = x.graph;
  const [b, c, h, w] = x.shape;
  return g.within(name, () => {
    const normed = groupNorm(x, 'group_norm', groups, VAE_NORM_EPS);
    const tokens = op.transpose(op.reshape(normed, [b, c, h * w]), [0, 2, 1]);
    const q = linear(tokens, 'to_q', c, c);
    const k = linear(tokens, 'to_k', c, c);
    const v = linear(tokens, 'to_v', c, c);
    const out = linear(attention(q, k, v, 1), 'to_out.0', c, c);
    const spatial = op.reshape(op.transpose(out, [0, 2, 1]), [b, c, h, w]);
    return op.add(spatial, x);
  });
}

/** UNetMidBlock2D without time embedding: resnet, attention, resnet. */
export function vaeMidBlock(x: Tensor, name: string, groups: number, withAttention: boolean): Tensor {
  const c = x.shape[1];
  return x.graph.within(name, () => {
    let h = vaeResnet(x, 'resnets.0', c, groups);
    if (withAttention) h = vaeAttention(h, 'attentions.0', groups);
    return vaeResnet(h, 'resnets.1', c, groups);
  });
}

/** Downsample2D(padding=0): pad one row/column at the bottom/right, then a stride-2 3×3 conv. */
export function vaeDownsample(x: Tensor, name: string): Tensor {
  const c = x.shape[1];
  return conv2d(x, name, c, c, 3, { stride: 2, padding: [0, 0, 1, 1] });
}

/** Upsample2D: nearest ×2, then a 3×3 conv. */
export function vaeUpsample(x: Tensor, name: string): Tensor {
  const c = x.shape[1];
  return conv2d(op.resizeNearest(x, 2), name, c, c, 3);
}
