// diffusers Upsample2D (use_conv=True): nearest-neighbour ×2 (or to an explicit size, when the latent
// was not divisible by the UNet's downsampling factor) followed by a 3×3 conv named `conv`.
import type { Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import * as nn from '../../graph/nn.ts';

/** torch.nn.functional.interpolate(mode="nearest", size=…) source indices: floor(dst · f32(in/out)). */
export function nearestIndices(inSize: number, outSize: number): number[] {
  const scale = Math.fround(inSize / outSize);
  return Array.from({ length: outSize }, (_, i) => Math.min(Math.floor(Math.fround(i * scale)), inSize - 1));
}

/** Nearest resize of NCHW `x` to [outH, outW]; exact ×k factors use Resize, other sizes a Gather per axis. */
export function resizeNearestTo(x: Tensor, outH: number, outW: number): Tensor {
  const [, , h, w] = x.shape;
  if (outH % h === 0 && outW % w === 0) return op.resizeNearest(x, outH / h, outW / w);
  const rows = op.gather(x, op.constant(x, nearestIndices(h, outH), [outH], 'i64'), 2);
  return op.gather(rows, op.constant(x, nearestIndices(w, outW), [outW], 'i64'), 3);
}

export function upsample2D(x: Tensor, outChannels: number, size?: readonly [number, number]): Tensor {
  const up = size ? resizeNearestTo(x, size[0], size[1]) : op.resizeNearest(x, 2);
  return nn.conv2d(up, 'conv', x.shape[1], outChannels, 3);
}
