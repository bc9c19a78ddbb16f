// diffusers T2IAdapter (models/adapter.py, v0.21) on the IR, parameters under `adapter.` as in its
// state_dict:
//   full_adapter / full_adapter_xl: PixelUnshuffle(r) → conv_in (3×3) → body blocks, each
//     [AvgPool 2×2 ceil] → [in_conv 1×1 when channels change] → resnets (x + conv1×1(relu(conv3×3(x))))
//   light_adapter: PixelUnshuffle(r) → body blocks, each
//     [AvgPool] → in_conv 1×1 (to channels/4) → resnets (x + conv3×3(relu(conv3×3(x)))) → out_conv 1×1
// Every block's output is one feature; a UNet adds feature i inside down level i.
import type { Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import * as nn from '../../graph/nn.ts';
import { adapterBlocks, type T2IAdapterConfig } from './config.ts';
import { avgPool2x2Ceil, pixelUnshuffle } from './resample.ts';

const relu = (x: Tensor) => op.maximum(x, 0);

function resnet(x: Tensor, channels: number, secondKernel: 1 | 3): Tensor {
  const h = relu(nn.conv2d(x, 'block1', channels, channels, 3));
  return op.add(nn.conv2d(h, 'block2', channels, channels, secondKernel), x);
}

function resnets(x: Tensor, channels: number, count: number, secondKernel: 1 | 3): Tensor {
  const g = x.graph;
  let h = x;
  for (let j = 0; j < count; j++) h = g.within('resnets', () => g.within(j, () => resnet(h, channels, secondKernel)));
  return h;
}

/** image [B, in_channels, H, W] (H, W divisible by downscale_factor) → one feature per body block. */
export function buildT2IAdapter(image: Tensor, config: T2IAdapterConfig): Tensor[] {
  const g = image.graph;
  if (image.shape.length !== 4 || image.shape[1] !== config.inChannels) {
    throw new Error(`T2IAdapter: image must be [B,${config.inChannels},H,W], got [${image.shape.join(',')}]`);
  }
  const r = config.downscaleFactor;
  if (image.shape[2] % r !== 0 || image.shape[3] % r !== 0) {
    throw new Error(`T2IAdapter: image height and width must be multiples of ${r}, got ${image.shape[2]}×${image.shape[3]}`);
  }
  return g.within('adapter', () => {
    let x = pixelUnshuffle(image, r);
    const light = config.type === 'light_adapter';
    if (!light) x = nn.conv2d(x, 'conv_in', x.shape[1], config.channels[0], 3);
    const features: Tensor[] = [];
    adapterBlocks(config).forEach((block, i) => {
      const input = x;
      x = g.within('body', () => g.within(i, () => {
        let h = block.down ? avgPool2x2Ceil(input) : input;
        if (light) {
          const mid = block.channels / 4;
          h = nn.conv2d(h, 'in_conv', h.shape[1], mid, 1, { padding: 0 });
          h = resnets(h, mid, config.numResBlocks, 3);
          return nn.conv2d(h, 'out_conv', mid, block.channels, 1, { padding: 0 });
        }
        if (h.shape[1] !== block.channels) h = nn.conv2d(h, 'in_conv', h.shape[1], block.channels, 1, { padding: 0 });
        return resnets(h, block.channels, config.numResBlocks, 1);
      }));
      features.push(x);
    });
    return features;
  });
}
