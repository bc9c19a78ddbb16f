// ColorizeDiffusion end to end (refnet/models/switch.py prepare_conditions + basemodel.generate, the demo's
// backend/functool.py pre/post-processing), on a checkpoint from colorizeDiffusionCheckpoint.ts:
//   reference → [−1,1] → OpenCLIP local tokens e (256×1024)
//   line art → white lines on black (the demo's "invert" preprocessor) → [−1,1]; padded with −1 (black) to
//     multiples of 64 as the demo's pad_image does, result cropped back ("Crop result")
//   vanilla  context e
//   bg2fig   fg = bg = e (the original's fg_enhance path: emb.repeat(1, 2, 1)), sketch mask split
//   fig2fig  e_b = local(where(rmask < ts_r, reference, white)); both branches attend to
//            concat(e + th(ts_s), transformer(e_b + th(ts_r))) — the original's bg_enhance + fg_enhance path,
//            whose chunk(2) hands both halves of the repeated context the same 2L tokens
//   latents: colorizeDiffusionLatents (DPM++ leading, dual CFG); image = uint8((clamp(D(z/0.18215), −1, 1) + 1)·127.5)
//     truncated, as the demo's to_numpy.
// Masks: the original runs ISNet-sketch on the line art and RMBG-2.0 (dilated) on the reference; here both come
// from `segmenter`: a user-supplied ONNX model, or by default the model-free border flood fill.
import { assertImage, convertChannels, createImage, type Image } from '../../imaging/image.ts';
import { flattenAlpha, invert } from '../../imaging/lineart.ts';
import type { Mask } from '../../imaging/masks.ts';
import type { ColorizeMode } from '../../models/splitAttention/modes.ts';
import { modeFlags } from '../../models/splitAttention/modes.ts';
import { SKETCH_ENCODER_SCALE } from '../../models/splitAttention/sketchEncoder.ts';
import { blueprintFromLineArt, blueprintHasLines, foregroundMask, type Segmenter } from './blueprint.ts';
import {
  backgroundReference, colorizeDiffusionLatents, ColorizeDiffusionError, COLORIZE_DIFFUSION_DEFAULTS, sketchMaskToLatent,
  type ColorizeDiffusionInputs, type F32Tensor,
} from './colorizeDiffusion.ts';
import type { ColorizeDiffusionCheckpoint } from './colorizeDiffusionCheckpoint.ts';

export interface ColorizeDiffusionRunProgress {
  readonly phase: 'encode' | 'step' | 'decode';
  readonly step: number;
  readonly steps: number;
}

export interface ColorizeDiffusionRunOptions {
  model: ColorizeDiffusionCheckpoint;
  reference: Image;
  /** Line art of either polarity (detected), or a white-on-black sketch. */
  sketch: Image;
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
  referenceScale?: number;
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
  const left = Math.floor((tw - w) / 2);
  const top = Math.floor((th - h) / 2);
  const out = new Float32Array(n * c * th * tw).fill(fill);
  for (let p = 0; p < n * c; p++) for (let y = 0; y < h; y++) {
    out.set(t.data.subarray((p * h + y) * w, (p * h + y + 1) * w), (p * th + y + top) * tw + left);
  }
  return { tensor: { shape: [n, c, th, tw], data: out }, left, top };
}

const maskTensor = (m: Mask): F32Tensor => ({ shape: [1, 1, m.height, m.width], data: m.data });
const hasForeground = (m: Mask) => m.data.some((v) => v >= 0.5);

/** Colours `sketch` after `reference` with a ColorizeDiffusion checkpoint. */
export async function colorizeDiffusion(o: ColorizeDiffusionRunOptions): Promise<ColorizeDiffusionRunResult> {
  const d = COLORIZE_DIFFUSION_DEFAULTS;
  const cp = o.model;
  const mode = o.mode ?? 'vanilla';
  const flags = modeFlags(mode);
  assertImage(o.reference, 'reference');
  assertImage(o.sketch, 'sketch');
  const tsR = o.referenceThreshold ?? d.referenceThreshold;
  const tsS = o.sketchThreshold ?? d.sketchThreshold;
  for (const [name, v] of [['referenceThreshold', tsR], ['sketchThreshold', tsS]] as const) {
    if (!Number.isFinite(v) || v < 0 || v > 1) throw new ColorizeDiffusionError(`${name} must be in [0, 1], got ${v}`);
  }
  const model = cp.model({ mode, sketchThreshold: tsS, referenceScale: o.referenceScale, fgScale: o.fgScale, bgScale: o.bgScale, mergeScale: o.mergeScale });
  const warnings: string[] = [];
  const segmenter = o.segmenter ?? 'border';

  // Sketch: white lines on black in [−1, 1], padded with black to multiples of the UNet's unit.
  const blueprint = blueprintFromLineArt(o.sketch);
  if (!blueprintHasLines(blueprint)) warnings.push('the line art has no lines: colouring follows the reference only');
  const unit = SKETCH_ENCODER_SCALE * 2 ** cp.unetConfig.down.filter((l) => l.downsample).length;
  const th = Math.ceil(blueprint.height / unit) * unit;
  const tw = Math.ceil(blueprint.width / unit) * unit;
  const padded = padCentred(imageToSigned(blueprint), th, tw, -1);
  const crop = { left: padded.left, top: padded.top, width: blueprint.width, height: blueprint.height };

  const reference = imageToSigned(o.reference);
  const tokens = await cp.encodeReference(reference);
  o.signal?.throwIfAborted();
  const inputs: ColorizeDiffusionInputs = { sketch: padded.tensor, referenceTokens: tokens };
  let sketchMask: Mask | undefined;
  let referenceMask: Mask | undefined;
  if (flags.split) {
    sketchMask = await foregroundMask(invert(blueprint), 'lineart', segmenter);
    if (!hasForeground(sketchMask)) warnings.push('no foreground found in the line art: every position takes the background branch');
    inputs.sketchMask = sketchMaskToLatent(padCentred(maskTensor(sketchMask), th, tw, 0).tensor);
    if (flags.bgLora) {
      referenceMask = await foregroundMask(convertChannels(flattenAlpha(o.reference), 3), 'colour', segmenter);
      if (!hasForeground(referenceMask)) warnings.push('no foreground found in the reference: its background tokens see the whole reference');
      const bgTokens = await cp.encodeReference(backgroundReference(reference, maskTensor(referenceMask), tsR));
      const context = await cp.referenceContext(tokens, bgTokens, tsR, tsS);
      inputs.referenceTokens = context;
      inputs.backgroundTokens = context;
    }
  }
  o.onProgress?.({ phase: 'encode', step: 0, steps: o.steps ?? d.steps });
  o.signal?.throwIfAborted();

  const res = await colorizeDiffusionLatents(model, inputs, {
    steps: o.steps, seed: o.seed, referenceGuidance: o.referenceGuidance, sketchGuidance: o.sketchGuidance, sketchStrength: o.sketchStrength,
    schedulerOverrides: { prediction_type: cp.prediction },
    onProgress: (p) => o.onProgress?.({ phase: 'step', step: p.step, steps: p.steps }),
    signal: o.signal,
  });
  const s = Math.fround(cp.vae.config.scaling_factor);
  const z = { shape: res.latents.shape, data: res.latents.data.map((v) => Math.fround(v / s)) };
  const decoded = await cp.vae.decode(z, { tiled: 'auto' });
  const image = signedToImage(decoded, crop);
  o.onProgress?.({ phase: 'decode', step: res.timesteps.length, steps: res.timesteps.length });
  return { image, seed: res.seed, mode, timesteps: res.timesteps, sketchMask, referenceMask, warnings };
}
