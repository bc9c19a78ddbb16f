// diffusers ResnetBlock2D (pre-norm, time_embedding_norm "default", SiLU):
// h = conv1(silu(norm1(x))) + time_emb_proj(silu(temb)); h = conv2(silu(norm2(h)));
// out = (shortcut(x) + h) / output_scale_factor, with a 1×1 conv_shortcut when channels change.
import type { Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import * as nn from '../../graph/nn.ts';

export interface ResnetOptions {
  outChannels: number;
  groups: number;
  eps: number;
  outputScaleFactor?: number;
}

/** x [B,C,H,W], temb [B,T] (already the time embedding; SiLU is applied here) → [B,outC,H,W]. */
export function resnetBlock2D(x: Tensor, temb: Tensor, opts: ResnetOptions): Tensor {
  const inC = x.shape[1];
  const outC = opts.outChannels;
  let h = nn.conv2d(nn.silu(nn.groupNorm(x, 'norm1', opts.groups, opts.eps)), 'conv1', inC, outC, 3);
  const t = nn.linear(nn.silu(temb), 'time_emb_proj', temb.shape[1], outC);
  h = op.add(h, op.reshape(t, [t.shape[0], outC, 1, 1]));
  h = nn.conv2d(nn.silu(nn.groupNorm(h, 'norm2', opts.groups, opts.eps)), 'conv2', outC, outC, 3);
  const skip = inC !== outC ? nn.conv2d(x, 'conv_shortcut', inC, outC, 1, { padding: 0 }) : x;
  const out = op.add(skip, h);
  const scale = opts.outputScaleFactor ?? 1;
  return scale === 1 ? out : op.div(out, scale);
}
