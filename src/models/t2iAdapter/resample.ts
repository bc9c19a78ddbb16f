// The two resampling layers T2I-Adapters use, written with primitives (reshape / transpose / reduce).
import type { Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';

/**
 * torch.nn.PixelUnshuffle(r): [B,C,H,W] → [B,C·r²,H/r,W/r]; output channel c·r² + i·r + j holds
 * input pixel (y·r + i, x·r + j).
 */
export function pixelUnshuffle(x: Tensor, r: number): Tensor {
  const [b, c, h, w] = x.shape;
  if (x.shape.length !== 4 || h % r !== 0 || w % r !== 0) {
    throw new Error(`PixelUnshuffle(${r}): input [${x.shape.join(',')}] must be NCHW with height and width divisible by ${r}`);
  }
  const split = op.reshape(x, [b, c, h / r, r, w / r, r]);
  return op.reshape(op.transpose(split, [0, 1, 3, 5, 2, 4]), [b, c * r * r, h / r, w / r]);
}

/**
 * torch.nn.AvgPool2d(kernel 2, stride 2, ceil_mode=True): an odd edge's last window averages only the
 * pixels inside the image. Repeating the edge row / column gives exactly that average, so the odd case
 * pads by replication and then averages 2×2 blocks.
 */
export function avgPool2x2Ceil(x: Tensor): Tensor {
  let t = x;
  const [, , h, w] = x.shape;
  if (h % 2 === 1) t = op.concat([t, op.slice(t, [2], [h - 1], [h])], 2);
  if (w % 2 === 1) t = op.concat([t, op.slice(t, [3], [w - 1], [w])], 3);
  const [b, c, hp, wp] = t.shape;
  const blocks = op.reshape(t, [b, c, hp / 2, 2, wp / 2, 2]);
  return op.reshape(op.reduceMean(blocks, [3, 5], true), [b, c, hp / 2, wp / 2]);
}
