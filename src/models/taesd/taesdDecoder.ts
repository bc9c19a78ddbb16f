// The Tiny AutoEncoder for SD (TAESD, madebyollin/taesd) decoder as a graph: a ~1.2 M-parameter stack of
// 64-channel 3×3 convs that turns a model-space latent (already × scaling factor, as the sampler holds it)
// into RGB in [0, 1] at 8× the latent size — a preview that looks like the VAE's image for ~1/20 of its
// work. The same layout serves SD1/SD2 (taesd_decoder) and SDXL (taesdxl_decoder); only the weights differ.
//
// Layout (a torch nn.Sequential, so parameters are named by position):
//   0 clamp: tanh(x / 3) · 3
//   1 conv 3×3 latent→64, 2 ReLU
//   3–5 Block, 6 nearest ×2, 7 conv 3×3 (no bias)
//   8–10 Block, 11 nearest ×2, 12 conv 3×3 (no bias)
//   13–15 Block, 16 nearest ×2, 17 conv 3×3 (no bias)
//   18 Block, 19 conv 3×3 64→3
// Block(64, 64) = ReLU(conv.0 → ReLU → conv.2 → ReLU → conv.4  +  x)   (the skip is the identity at 64→64).
import { type Graph, type Tensor, createGraph, fmtShape } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import { conv2d } from '../../graph/nn.ts';

export const TAESD_WIDTH = 64;

export class TaesdError extends Error {
  override name = 'TaesdError';
}

const relu = (x: Tensor): Tensor => op.maximum(x, 0);

function block(x: Tensor, index: number): Tensor {
  const c = TAESD_WIDTH;
  return x.graph.within(`${index}.conv`, () => {
    let h = relu(conv2d(x, '0', c, c, 3));
    h = relu(conv2d(h, '2', c, c, 3));
    h = conv2d(h, '4', c, c, 3);
    return relu(op.add(h, x));
  });
}

/** Sequential indices of the three Block runs, each followed by an upsample and a bias-free conv. */
const STAGES: readonly { blocks: readonly number[]; conv: number }[] = [
  { blocks: [3, 4, 5], conv: 7 },
  { blocks: [8, 9, 10], conv: 12 },
  { blocks: [13, 14, 15], conv: 17 },
];

/** Every parameter name of the decoder with its shape, as the published files name them. */
export function taesdDecoderParams(latentChannels = 4): Map<string, readonly number[]> {
  const g = taesdDecoderGraph([1, latentChannels, 1, 1]);
  return new Map([...g.params].map(([name, id]) => [name, g.values[id].shape]));
}

/** Graph with input `latents` [B, C, h, w] (model space) and output `image` [B, 3, 8h, 8w] clamped to [0, 1]. */
export function taesdDecoderGraph(latentShape: readonly number[]): Graph {
  if (latentShape.length !== 4 || latentShape.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new TaesdError(`TAESD decode: latents must be [B, C, h, w], got ${fmtShape(latentShape)}`);
  }
  const c = TAESD_WIDTH;
  const g = createGraph('taesd_decode');
  const z = g.input('latents', 'f32', latentShape);
  let h = op.mul(op.tanh(op.div(z, 3)), 3);
  h = relu(conv2d(h, '1', latentShape[1], c, 3));
  for (const stage of STAGES) {
    for (const b of stage.blocks) h = block(h, b);
    h = conv2d(op.resizeNearest(h, 2), String(stage.conv), c, c, 3, { bias: false });
  }
  h = block(h, 18);
  h = conv2d(h, '19', c, 3, 3);
  g.output('image', op.minimum(op.maximum(h, 0), 1));
  return g;
}
