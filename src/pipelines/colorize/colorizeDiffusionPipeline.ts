// ColorizeDiffusion end to end (refnet/models/switch.py prepare_conditions + basemodel.generate, the demo's
// backend/functool.py pre/post-processing), on a checkpoint from colorizeDiffusionCheckpoint.ts:
//   reference → [−1,1] → OpenCLIP local tokens e (256×1024)
//   line art → white lines on black (the demo's "invert" preprocessor) → [−1,1]; padded with −1 (black) to
//     multiples of 64 as the demo's pad_image does, result cropped back ("Crop result")
//   contexts per mode: models/splitAttention/modes.ts; generate(): colorizeDiffusion.ts
//   image = uint8((clamp(D(z/0.18215), −1, 1) + 1)·127.5) truncated, as the demo's to_numpy.
// Masks: the original runs ISNet-sketch on the line art and RMBG-2.0 (dilated) on the reference; here they are
// given (sketchMask / referenceMask, at image size, values in [0, 1]) or come from `segmenter`: a user-supplied
// ONNX model, or by default the model-free border flood fill. The sketch mask reaches latent size through the
// demo's scaled_resize(mask, 0.125) (bicubic). Inputs may also be tensors in [−1, 1] (used exactly as given,
// no line-art conversion), which is how a run of the original is reproduced.
import { assertImage, convertChannels, createImage, type Image } from '../../imaging/image.ts';
import { flattenAlpha, invert } from '../../imaging/lineart.ts';
import type { Mask } from '../../imaging/masks.ts';
import type { ColorizeMode } from '../../models/splitAttention/modes.ts';
import { modeFlags } from '../../models/splitAttention/modes.ts';
import { SKETCH_ENCODER_SCALE } from '../../models/splitAttention/sketchEncoder.ts';
import { blueprintFromLineArt, blueprintHasLines, foregroundMask, type Segmenter } from './blueprint.ts';
import {
  colorizeDiffusionGenerate, ColorizeDiffusionError, COLORIZE_DIFFUSION_DEFAULTS, sketchMaskToLatent, sketchUnit,
  type ColorizeConditionInputs, type F32Tensor,
} from './colorizeDiffusion.ts';
import type { ColorizeDiffusionCheckpoint } from './colorizeDiffusionCheckpoint.ts';

export interface ColorizeDiffusionRunProgress {
  readonly phase: 'encode' | 'step' | 'decode';
  readonly step: number;
  readonly steps: number;
}

export interface ColorizeDiffusionRunOptions {
  model: ColorizeDiffusionCheckpoint;
  /** A picture, or a tensor [1,3,H,W] in [−1,1] used as is. */
  reference: Image | F32Tensor;
  /** Line art of either polarity (detected), or a white-on-black sketch; or a tensor [1,3,H,W] in [−1,1] used as is. */
  sketch: Image | F32Tensor;
  /** Sketch foreground mask at the sketch's size (split modes); default from `segmenter`. */
  sketchMask?: Mask | F32Tensor;
  /** Reference foreground mask at the reference's size (bg_enhance, fig2fig); default from `segmenter`. */
  referenceMask?: Mask | F32Tensor;
  /** Overrides the checkpoint's prediction type. */
  prediction?: 'epsilon' | 'v_prediction';
  mode?: ColorizeMode;
  seed?: number | bigint;
  steps?: number;
  referenceGuidance?: number;
  sketchGuidance?: number;
  /** ts_r (fig2fig background: reference pixels whose mask is below it). */
  referenceThreshold?: number;
  /** ts_s (split modes: latent positions whose sketch mask is above it take the foreground branch). */
  sketchThreshold?: number;
  /** The demo's reference / foreground / background strength, merging scale and sketch strength. */
  /** One for every cross-attention, or one per cross-attention in the original's order (models/splitAttention/referenceStrength.ts). */
  referenceScale?: number | readonly number[];
  fgScale?: number;
  bgScale?: number;
  mergeScale?: number;
  sketchStrength?: number;
  /** Masks for the split modes: 'border' (default) or an ONNX segmentation model. */
  segmenter?: Exclude<Segmenter, false>;
  onProgress?: (p: ColorizeDiffusionRunProgress) => void;
  signal?: AbortSignal;
}

export interface ColorizeDiffusionRunResult {
  /** RGB at the line art's size. */
  image: Image;
  seed: bigint;
  mode: ColorizeMode;
  timesteps: number[];
  /** Masks used (split modes), at image size: sketch foreground and reference foreground (fig2fig). */
  sketchMask?: Mask;
  referenceMask?: Mask;
  warnings: string[];
}

/** torchvision ToTensor + Normalize(0.5, 0.5): HWC uint8 → [1,3,H,W] in [−1,1], float32 steps. */
export function imageToSigned(img: Image): F32Tensor {
  const rgb = convertChannels(flattenAlpha(img), 3);
  const { width: w, height: h } = rgb;
  const out = new Float32Array(3 * w * h);
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) out[c * w * h + i] = Math.fround(Math.fround(Math.fround(rgb.data[i * 3 + c] / 255) - 0.5) / 0.5);
  }
  return { shape: [1, 3, h, w], data: out };
}

/** The demo's to_numpy: uint8((clamp(x, −1, 1) + 1)·127.5) — truncated, not rounded — cropped to [left, top, w, h]. */
export function signedToImage(t: F32Tensor, crop: { left: number; top: number; width: number; height: number }): Image {
  const [, , h, w] = t.shape;
  const img = createImage(crop.width, crop.height, 3);
  for (let y = 0; y < crop.height; y++) for (let x = 0; x < crop.width; x++) {
    for (let c = 0; c < 3; c++) {
      const v = t.data[(c * h + y + crop.top) * w + x + crop.left];
      const s = Number.isNaN(v) ? -1 : Math.min(1, Math.max(-1, v));
      img.data[(y * crop.width + x) * 3 + c] = Math.trunc(Math.fround(Math.fround(s + 1) * 127.5));
    }
  }
  return img;
}

/** Pads [1,C,H,W] to [1,C,th,tw] with `fill`, centred as the demo's pad_image ((t − s) // 2 before). */
function padCentred(t: F32Tensor, th: number, tw: number, fill: number): { tensor: F32Tensor; left: number; top: number } {
  const [n, c, h, w] = t.shape;
  if (h === th && w === tw) return { tensor: t, left: 0, top: 0 };
  const left = Math.floor((tw - w) / 2);
  const top = Math.floor((th - h) / 2);
  const out = new Float32Array(n * c * th * tw).fill(fill);
  for (let p = 0; p < n * c; p++) for (let y = 0; y < h; y++) {
    out.set(t.data.subarray((p * h + y) * w, (p * h + y + 1) * w), (p * th + y + top) * tw + left);
  }
  return { tensor: { shape: [n, c, th, tw], data: out }, left, top };
}

const isImage = (x: Image | F32Tensor | Mask): x is Image => 'channels' in x;
const isMask = (x: Mask | F32Tensor): x is Mask => 'width' in x && !('channels' in x);
const maskTensor = (m: Mask | F32Tensor): F32Tensor => (isMask(m) ? { shape: [1, 1, m.height, m.width], data: m.data } : m);
const hasForeground = (m: F32Tensor) => m.data.some((v) => v >= 0.5);
const sizeOf = (t: F32Tensor) => [t.shape[2], t.shape[3]] as const;

function checkMask(what: string, m: F32Tensor, h: number, w: number): void {
  if (m.shape.join(',') !== [1, 1, h, w].join(',') || m.data.length !== h * w) {
    throw new ColorizeDiffusionError(`${what} must be ${w}×${h} like its image, got [${m.shape.join(',')}]`);
  }
}

/** Colours `sketch` after `reference` with a ColorizeDiffusion checkpoint. */
export async function colorizeDiffusion(o: ColorizeDiffusionRunOptions): Promise<ColorizeDiffusionRunResult> {
  const d = COLORIZE_DIFFUSION_DEFAULTS;
  const cp = o.model;
  const mode = o.mode ?? 'vanilla';
  const flags = modeFlags(mode);
  if (isImage(o.reference)) assertImage(o.reference, 'reference');
  if (isImage(o.sketch)) assertImage(o.sketch, 'sketch');
  const tsR = o.referenceThreshold ?? d.referenceThreshold;
  const warnings: string[] = [];
  const segmenter = o.segmenter ?? 'border';

  // Sketch: white lines on black in [−1, 1], padded with black to multiples of the UNet's unit.
  let sketch: F32Tensor;
  let blueprint: Image | undefined;
  if (isImage(o.sketch)) {
    blueprint = blueprintFromLineArt(o.sketch);
    if (!blueprintHasLines(blueprint)) warnings.push('the line art has no lines: colouring follows the reference only');
    sketch = imageToSigned(blueprint);
  } else {
    sketch = o.sketch;
    if (sketch.shape.length !== 4 || sketch.shape[0] !== 1 || sketch.shape[1] !== 3) throw new ColorizeDiffusionError(`sketch tensor must be [1,3,H,W], got [${sketch.shape.join(',')}]`);
  }
  const [sh, sw] = sizeOf(sketch);
  const unit = sketchUnit(cp.unetConfig);
  const th = Math.ceil(sh / unit) * unit;
  const tw = Math.ceil(sw / unit) * unit;
  const padded = padCentred(sketch, th, tw, -1);
  const crop = { left: padded.left, top: padded.top, width: sw, height: sh };

  const reference = isImage(o.reference) ? imageToSigned(o.reference) : o.reference;
  const inputs: ColorizeConditionInputs = { sketch: padded.tensor, reference };
  let sketchMask: Mask | undefined;
  let referenceMask: Mask | undefined;
  if (flags.split) {
    let m: F32Tensor;
    if (o.sketchMask) m = maskTensor(o.sketchMask);
    else {
      if (!blueprint) throw new ColorizeDiffusionError(`mode ${mode} needs a sketch mask: give sketchMask with a sketch tensor`);
      sketchMask = await foregroundMask(invert(blueprint), 'lineart', segmenter);
      m = maskTensor(sketchMask);
    }
    checkMask('sketch mask', m, sh, sw);
    if (!hasForeground(m)) warnings.push('no foreground found in the line art: every position takes the background branch');
    inputs.sketchMask = sketchMaskToLatent(padCentred(m, th, tw, 0).tensor);
  }
  if (flags.backgroundTokens) {
    let m: F32Tensor;
    if (o.referenceMask) m = maskTensor(o.referenceMask);
    else {
      if (!isImage(o.reference)) throw new ColorizeDiffusionError(`mode ${mode} needs a reference mask: give referenceMask with a reference tensor`);
      referenceMask = await foregroundMask(convertChannels(flattenAlpha(o.reference), 3), 'colour', segmenter);
      m = maskTensor(referenceMask);
    }
    checkMask('reference mask', m, reference.shape[2], reference.shape[3]);
    if (!hasForeground(m)) warnings.push('no foreground found in the reference: its background tokens see the whole reference');
    inputs.referenceMask = m;
  }
  o.onProgress?.({ phase: 'encode', step: 0, steps: o.steps ?? d.steps });
  o.signal?.throwIfAborted();

  const res = await colorizeDiffusionGenerate(cp, inputs, {
    mode, steps: o.steps, seed: o.seed, referenceGuidance: o.referenceGuidance, sketchGuidance: o.sketchGuidance,
    referenceThreshold: tsR, sketchThreshold: o.sketchThreshold, sketchStrength: o.sketchStrength,
    referenceScale: o.referenceScale, fgScale: o.fgScale, bgScale: o.bgScale, mergeScale: o.mergeScale, prediction: o.prediction,
    onProgress: (p) => o.onProgress?.({ phase: 'step', step: p.step, steps: p.steps }),
    signal: o.signal,
  });
  const image = signedToImage(res.decoded!, crop);
  o.onProgress?.({ phase: 'decode', step: res.timesteps.length, steps: res.timesteps.length });
  return { image, seed: res.seed, mode, timesteps: res.timesteps, sketchMask, referenceMask, warnings };
}
