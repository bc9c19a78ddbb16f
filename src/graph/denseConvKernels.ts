// Which frozen convolution kernels a training graph keeps as f32 constants under f16 weight storage.
// A conv does 2·H·W FLOPs per kernel weight and pass (H·W its output pixels) whatever its channels, so the
// kernels of high-resolution convs carry most conv FLOPs in few bytes. Kept f32 and constant, ORT runs
// their forward on its blocked NCHWc kernel, folds the flipped kernel of the input gradient
// (primitives/linalg.ts) into a second constant that runs NCHWc too, and no Cast reads them: two f32
// copies (8 bytes a weight) instead of one f16 (2 bytes). Lower levels hold most kernel bytes for few FLOPs
// and stay f16, cast per use, with ConvTranspose for their input gradient.
import type { Graph } from './graph.ts';

/**
 * Output pixels from which a stride-1 conv's input gradient is a flipped-kernel Conv and a frozen kernel stays
 * f32 in training graphs (the two go together: flipping a kernel cast at run time costs more than it gains).
 * Measured one 3×3 conv, forward + input gradient, 2 threads, load ~2 (f16 cast per use with ConvTranspose →
 * f32 constant with flipped Conv, ms): 320² @64² 74 → 55, 640² @64² 270 → 197, 640² @32² 81 → 50,
 * 1280² @32² 312 → 185, 1280² @16² 81 → 47, 1280² @8² 33 → 14. Per million weights that saves ~20–40 ms at
 * 64², ~8 at 32², ~2 at 16², ~1 at 8², each for +6 MB. SD1.5's kernels at ≥ 32² are 89 M weights: its 512² LoRA
 * step (bench train) 11.6–11.7 → 9.1 s, peak RSS 7.1 → 7.7 GB; those at 16² are another 222 M (+1.3 GB), which
 * the 8 GB bound of that step cannot hold.
 */
export const DENSE_CONV_MIN_PIXELS = 32 * 32;

/** Parameters read as the kernel of a Conv whose output has at least DENSE_CONV_MIN_PIXELS pixels. */
export function denseConvKernels(g: Graph): Set<string> {
  const kernels = new Set<number>();
  for (const n of g.nodes) {
    if (n.op !== 'Conv') continue;
    const [, , h, w] = g.values[n.outputs[0]].shape;
    if (h * w >= DENSE_CONV_MIN_PIXELS && g.values[n.inputs[1]].kind === 'param') kernels.add(n.inputs[1]);
  }
  return new Set([...g.params].filter(([, id]) => kernels.has(id)).map(([name]) => name));
}
