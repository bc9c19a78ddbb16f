// ColorizeDiffusion's sketch encoder (refnet/modules/encoder.py `MultiEncoder`), parameter names as in the
// released checkpoints under `control_encoder.`:
//   model: conv 3→16, 16→16, 16→32/2, 32→32, 32→96/2, 96→96, 96→256/2, 256→c0 (3×3, SiLU between) — indices 0,2,…,14
//   zero_layer.0: 1×1 c0→c0                                     → hint 0 (latent size)
//   output_blocks.i: SiLU, 3×3 c_{i−1}→c_i (stride 2 except the last block) [1], SiLU, 3×3 c_i→c_i [3]
//   zero_blocks.i.0: 1×1 c_i→c_i                               → hint i+1
// with c = the UNet's block_out_channels. The hints are added to the UNet's hidden state after conv_in, after
// each downsampler and after the last down layer (LDM input_blocks 0, 3, 6, 9, 11 for SD).
import type { Tensor } from '../../graph/graph.ts';
import * as nn from '../../graph/nn.ts';

const STEM: readonly [number, number, number][] = [
  // [in, out, stride]; in = 0 stands for the sketch channels, out = 0 for c0
  [0, 16, 1], [16, 16, 1], [16, 32, 2], [32, 32, 1], [32, 96, 2], [96, 96, 1], [96, 256, 2], [256, 0, 1],
];

/** Pixels per latent pixel the stem divides by (three stride-2 convs). */
export const SKETCH_ENCODER_SCALE = 8;

/** sketch [B, inCh, 8h, 8w] (in [−1, 1]; a blank sketch is all −1) → hints, params under the current scope. */
export function sketchEncoder(sketch: Tensor, channels: readonly number[]): Tensor[] {
  const g = sketch.graph;
  if (sketch.shape.length !== 4) throw new Error(`sketch encoder: sketch must be [B,C,H,W], got [${sketch.shape.join(',')}]`);
  const inCh = sketch.shape[1];
  const c0 = channels[0];
  let x = sketch;
  g.within('model', () => {
    STEM.forEach(([i, o, s], k) => {
      if (k > 0) x = nn.silu(x);
      x = nn.conv2d(x, String(2 * k), i || inCh, o || c0, 3, { stride: s, padding: 1 });
    });
  });
  const zero = (t: Tensor, c: number) => nn.conv2d(t, '0', c, c, 1, { padding: 0 });
  const hints = [g.within('zero_layer', () => zero(x, c0))];
  let prev = c0;
  channels.forEach((c, i) => {
    const last = i === channels.length - 1;
    g.within('output_blocks', () => g.within(i, () => {
      x = nn.conv2d(nn.silu(x), '1', prev, c, 3, { stride: last ? 1 : 2, padding: 1 });
      x = nn.conv2d(nn.silu(x), '3', c, c, 3, { padding: 1 });
    }));
    hints.push(g.within('zero_blocks', () => g.within(i, () => zero(x, c))));
    prev = c;
  });
  return hints;
}
