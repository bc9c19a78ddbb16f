// diffusers Downsample2D (use_conv=True): a 3×3 stride-2 conv named `conv`. With padding 0 diffusers pads
// (0,1,0,1) first, i.e. right and bottom only.
import type { Tensor } from '../../graph/graph.ts';
import * as nn from '../../graph/nn.ts';

export function downsample2D(x: Tensor, outChannels: number, padding = 1): Tensor {
  const pads: [number, number, number, number] = padding === 0 ? [0, 0, 1, 1] : [padding, padding, padding, padding];
  return nn.conv2d(x, 'conv', x.shape[1], outChannels, 3, { stride: 2, padding: pads });
}
