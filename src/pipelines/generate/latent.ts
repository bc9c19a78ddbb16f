// The LATENT value of a workflow, as ComfyUI's dict: `samples` in node space (what VAEEncode returns and
// KSampler takes, before the 0.18215 scale), an optional `noise_mask` (pixel or latent resolution,
// [B, H, W]; only the masked part is denoised) and the batch indices the samples came from.
import { bislerp, centreCropPlanes, interpolatePlanes, type FloatPlanes } from '../../imaging/interpolate.ts';

export interface Latent {
  samples: Float32Array;
  /** [N, C, h, w]. */
  shape: [number, number, number, number];
  noiseMask?: { data: Float32Array; shape: [number, number, number] };
  /** VAEEncodeForInpaint's output: the samples encode the image with the masked part greyed out (what
   *  inpainting checkpoints take as their extra input channels). */
  maskedForInpaint?: boolean;
  /** Inpainting checkpoints' extra inputs when `samples` are not already the greyed image (img2img with a noise
   *  mask, ComfyUI's InpaintModelConditioning): the node-space latent of the image with the masked part greyed
   *  out ([N·C·h·w]) and the mask ([B, H, W], pixel or latent resolution). */
  inpaint?: { image: Float32Array; mask: { data: Float32Array; shape: [number, number, number] } };
  /** EmptyLatentImage's pixel size: an all-zero latent is re-made at the sampling model's own VAE factor
   *  and channel count (ComfyUI assumes 8 and 4; inkflow's tiny test models differ). */
  emptyPixels?: { width: number; height: number };
}

/** EmptyLatentImage: zeros of [batch, channels, height / 8, width / 8] (integer division, as ComfyUI). */
export function emptyLatent(width: number, height: number, batch: number, channels = 4, factor = 8): Latent {
  const shape: Latent['shape'] = [batch, channels, Math.floor(height / factor), Math.floor(width / factor)];
  return { samples: new Float32Array(shape[0] * shape[1] * shape[2] * shape[3]), shape, emptyPixels: { width, height } };
}

/** An empty latent sized for a model with VAE factor `factor` and `channels` latent channels. */
export function resizeEmptyLatent(latent: Latent, channels: number, factor: number): Latent {
  if (!latent.emptyPixels) return latent;
  const { width, height } = latent.emptyPixels;
  const [n, c, h, w] = latent.shape;
  if (c === channels && h === Math.floor(height / factor) && w === Math.floor(width / factor)) return latent;
  return { ...emptyLatent(width, height, n, channels, factor), ...(latent.noiseMask ? { noiseMask: latent.noiseMask } : {}) };
}

/** RepeatLatentBatch: the batch repeated `amount` times (the noise mask too). */
export function repeatLatent(latent: Latent, amount: number): Latent {
  const [n, c, h, w] = latent.shape;
  const samples = new Float32Array(latent.samples.length * amount);
  for (let i = 0; i < amount; i++) samples.set(latent.samples, i * latent.samples.length);
  const out: Latent = { samples, shape: [n * amount, c, h, w], ...(latent.emptyPixels ? { emptyPixels: latent.emptyPixels } : {}) };
  if (latent.maskedForInpaint) out.maskedForInpaint = true;
  if (latent.inpaint) {
    const image = new Float32Array(latent.inpaint.image.length * amount);
    for (let i = 0; i < amount; i++) image.set(latent.inpaint.image, i * latent.inpaint.image.length);
    out.inpaint = { image, mask: latent.inpaint.mask };
  }
  if (latent.noiseMask) {
    const m = latent.noiseMask;
    // ComfyUI repeats the mask only when it has more than one entry (a single mask broadcasts).
    if (m.shape[0] > 1 || n > 1) {
      const data = new Float32Array(m.data.length * amount);
      for (let i = 0; i < amount; i++) data.set(m.data, i * m.data.length);
      out.noiseMask = { data, shape: [m.shape[0] * amount, m.shape[1], m.shape[2]] };
    } else out.noiseMask = m;
  }
  return out;
}

export const LATENT_UPSCALE_METHODS = ['nearest-exact', 'bilinear', 'area', 'bicubic', 'bislerp'] as const;
export type LatentUpscaleMethod = (typeof LATENT_UPSCALE_METHODS)[number];

/**
 * LatentUpscale: common_upscale of the samples to [height / factor, width / factor] (integer division),
 * optionally centre-cropped to the target aspect first, in float (imaging/interpolate.ts). Like ComfyUI's
 * dict copy, the noise mask stays (it is resized to the latent when sampling).
 */
export function upscaleLatent(latent: Latent, width: number, height: number, method: LatentUpscaleMethod, crop: 'disabled' | 'center', factor = 8): Latent {
  const [n, c] = latent.shape;
  const outW = Math.floor(width / factor);
  const outH = Math.floor(height / factor);
  if (outW < 1 || outH < 1) throw new Error(`LatentUpscale: ${width}×${height} is below one latent pixel (factor ${factor})`);
  let planes: FloatPlanes = { n: n * c, h: latent.shape[2], w: latent.shape[3], c: 1, data: latent.samples };
  if (crop === 'center') planes = centreCropPlanes(planes, outW, outH);
  const samples = method === 'bislerp'
    ? bislerp(planes.data, [n, c, planes.h, planes.w], outH, outW)
    : interpolatePlanes(planes, outH, outW, method).data;
  return { samples, shape: [n, c, outH, outW], ...(latent.noiseMask ? { noiseMask: latent.noiseMask } : {}) };
}
