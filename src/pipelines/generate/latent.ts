// The LATENT value of a workflow, as ComfyUI's dict: `samples` in node space (what VAEEncode returns and
// KSampler takes, before the 0.18215 scale), an optional `noise_mask` (pixel or latent resolution,
// [B, H, W]; only the masked part is denoised) and the batch indices the samples came from.
import { roundHalfEven } from '../../imaging/threshold.ts';

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

export type LatentUpscaleMethod = 'nearest-exact' | 'bilinear';

/** torch interpolate of one float plane (align_corners False, no antialias): nearest-exact or bilinear. */
function resizePlane(src: Float32Array, w: number, h: number, outW: number, outH: number, method: LatentUpscaleMethod): Float32Array {
  const out = new Float32Array(outW * outH);
  if (method === 'nearest-exact') {
    const sx = w / outW;
    const sy = h / outH;
    for (let y = 0; y < outH; y++) {
      const iy = Math.min(Math.floor((y + 0.5) * sy), h - 1);
      for (let x = 0; x < outW; x++) out[y * outW + x] = src[iy * w + Math.min(Math.floor((x + 0.5) * sx), w - 1)];
    }
    return out;
  }
  const coords = (o: number, inSize: number, outSize: number) => {
    const p = Math.max(0, (o + 0.5) * (inSize / outSize) - 0.5);
    const i0 = Math.min(Math.floor(p), inSize - 1);
    return { i0, i1: Math.min(i0 + 1, inSize - 1), t: p - i0 };
  };
  for (let y = 0; y < outH; y++) {
    const cy = coords(y, h, outH);
    for (let x = 0; x < outW; x++) {
      const cx = coords(x, w, outW);
      const top = src[cy.i0 * w + cx.i0] * (1 - cx.t) + src[cy.i0 * w + cx.i1] * cx.t;
      const bot = src[cy.i1 * w + cx.i0] * (1 - cx.t) + src[cy.i1 * w + cx.i1] * cx.t;
      out[y * outW + x] = top * (1 - cy.t) + bot * cy.t;
    }
  }
  return out;
}

/**
 * LatentUpscale: every plane resized to [height / factor, width / factor], optionally centre-cropped to the
 * target aspect first (common_upscale). The noise mask is dropped, as ComfyUI's copy keeps only samples.
 */
export function upscaleLatent(latent: Latent, width: number, height: number, method: LatentUpscaleMethod, crop: 'disabled' | 'center', factor = 8): Latent {
  const [n, c, h, w] = latent.shape;
  const outW = Math.max(1, Math.floor(width / factor));
  const outH = Math.max(1, Math.floor(height / factor));
  let x0 = 0, y0 = 0, cw = w, ch = h;
  if (crop === 'center') {
    const oldAspect = w / h;
    const newAspect = outW / outH;
    if (oldAspect > newAspect) x0 = roundHalfEven((w - w * (newAspect / oldAspect)) / 2);
    else if (oldAspect < newAspect) y0 = roundHalfEven((h - h * (oldAspect / newAspect)) / 2);
    cw = w - 2 * x0;
    ch = h - 2 * y0;
  }
  const samples = new Float32Array(n * c * outH * outW);
  const plane = new Float32Array(cw * ch);
  for (let k = 0; k < n * c; k++) {
    for (let y = 0; y < ch; y++) plane.set(latent.samples.subarray(k * h * w + (y + y0) * w + x0, k * h * w + (y + y0) * w + x0 + cw), y * cw);
    samples.set(resizePlane(plane, cw, ch, outW, outH, method), k * outH * outW);
  }
  return { samples, shape: [n, c, outH, outW] };
}
