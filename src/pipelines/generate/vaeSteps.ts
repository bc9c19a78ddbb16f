// VAE steps as ComfyUI's nodes do them, over IMAGE/MASK batches and LATENTs:
//   VAEEncode            crop to a multiple of the VAE factor (centred), 2x − 1, encoder mean per image
//   VAEEncodeForInpaint  mask bilinear to the image, same crop, masked pixels → 0.5 grey, grow_mask_by,
//                        noise_mask = the grown, rounded mask
//   InpaintModelConditioning  the image encoded as it is, plus (for inpainting checkpoints) the greyed-out image
//                        encoded and the rounded mask; noise_mask also restricts denoising to the mask
//   VAEDecode            clamp((x + 1) / 2, 0, 1) as float32 (SaveImage truncates 255·x later)
import type { Checkpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import type { SdxlCheckpoint } from '../../models/checkpoint/sdxlCheckpoint.ts';
import { growMaskForInpaint } from '../../imaging/masks.ts';
import { imageBatch, type ImageBatch, type MaskBatch } from '../../imaging/tensorBatch.ts';
import { bilinearResize, cropOffsets } from './pixels.ts';
import type { Latent } from './latent.ts';
import { assertFiniteStage } from '../nonFiniteStage.ts';

/** SD1/SD2 or SDXL: the VAE steps only need the VAE. */
type VaeCheckpoint = Checkpoint | SdxlCheckpoint;

const vaeFiles = (model: VaeCheckpoint) => () => ('weightFiles' in model ? model.weightFiles('vae') : []);

export class VaeStepError extends Error {
  override name = 'VaeStepError';
}

/** One batch entry of the crop as [1, 3, h, w] in [-1, 1]; `grey` (per pixel 0/1) greys pixels out first. */
function entryTensor(pixels: ImageBatch, b: number, crop: { x: number; y: number; width: number; height: number }, keep?: Float32Array): Float32Array {
  const { width: w, height: h } = crop;
  const n = w * h;
  const c = pixels.channels;
  const out = new Float32Array(3 * n);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const src = ((b * pixels.height + y + crop.y) * pixels.width + x + crop.x) * c;
      const i = y * w + x;
      for (let ch = 0; ch < 3; ch++) {
        let v = pixels.data[src + Math.min(ch, c - 1)];
        if (keep) v = Math.fround(Math.fround(v - 0.5) * keep[i] + 0.5);
        out[ch * n + i] = v * 2 - 1;
      }
    }
  }
  return out;
}

function cropFor(model: VaeCheckpoint, pixels: ImageBatch) {
  const crop = cropOffsets(pixels.width, pixels.height, model.vaeScaleFactor);
  if (crop.width === 0 || crop.height === 0) throw new VaeStepError(`image ${pixels.width}×${pixels.height} is smaller than the VAE factor ${model.vaeScaleFactor}`);
  return crop;
}

async function encodeEntries(model: VaeCheckpoint, pixels: ImageBatch, crop: ReturnType<typeof cropFor>, keep?: (b: number) => Float32Array, signal?: AbortSignal): Promise<Latent> {
  const vae = await model.useVae();
  const f = model.vaeScaleFactor;
  const c = model.vaeConfig.latent_channels;
  const shape: Latent['shape'] = [pixels.batch, c, crop.height / f, crop.width / f];
  const per = c * shape[2] * shape[3];
  const samples = new Float32Array(pixels.batch * per);
  for (let b = 0; b < pixels.batch; b++) {
    signal?.throwIfAborted();
    const x = entryTensor(pixels, b, crop, keep?.(b));
    const one = (await vae.encode({ shape: [1, 3, crop.height, crop.width], data: x })).mean.data;
    assertFiniteStage('VAE encode', one, 'encoded image', 'vae', vaeFiles(model));
    samples.set(one, b * per);
  }
  return { samples, shape };
}

export async function vaeEncode(model: VaeCheckpoint, pixels: ImageBatch, signal?: AbortSignal): Promise<Latent> {
  return encodeEntries(model, pixels, cropFor(model, pixels), undefined, signal);
}

export async function vaeEncodeForInpaint(model: VaeCheckpoint, pixels: ImageBatch, mask: MaskBatch, growMaskBy: number, signal?: AbortSignal): Promise<Latent> {
  const crop = cropFor(model, pixels);
  const masks: Float32Array[] = [];
  const grown: Float32Array[] = [];
  for (let b = 0; b < mask.batch; b++) {
    let m = mask.data.subarray(b * mask.width * mask.height, (b + 1) * mask.width * mask.height);
    if (mask.width !== pixels.width || mask.height !== pixels.height) m = bilinearResize(m, mask.width, mask.height, pixels.width, pixels.height);
    const cropped = new Float32Array(crop.width * crop.height);
    for (let y = 0; y < crop.height; y++) cropped.set(m.subarray((y + crop.y) * pixels.width + crop.x, (y + crop.y) * pixels.width + crop.x + crop.width), y * crop.width);
    masks.push(cropped);
    const g = growMaskForInpaint({ width: crop.width, height: crop.height, data: cropped }, growMaskBy).data;
    grown.push(growMaskBy === 0 ? g.map((v) => (v > 0.5 ? 1 : 0)) : g);
  }
  // torch.round on [0, 1] is half-to-even, so 0.5 keeps the pixel.
  const keep = (b: number) => masks[Math.min(b, masks.length - 1)].map((v) => 1 - (v > 0.5 ? 1 : 0));
  const latent = await encodeEntries(model, pixels, crop, keep, signal);
  const data = new Float32Array(grown.length * crop.width * crop.height);
  grown.forEach((g, b) => data.set(g, b * g.length));
  return { ...latent, noiseMask: { data, shape: [grown.length, crop.height, crop.width] }, maskedForInpaint: true };
}

export async function inpaintModelConditioning(model: VaeCheckpoint, pixels: ImageBatch, mask: MaskBatch, noiseMask: boolean, signal?: AbortSignal): Promise<Latent> {
  const grey = await vaeEncodeForInpaint(model, pixels, mask, 0, signal);
  const latent = await vaeEncode(model, pixels, signal);
  return { ...latent, inpaint: { image: grey.samples, mask: grey.noiseMask! }, ...(noiseMask ? { noiseMask: grey.noiseMask } : {}) };
}

export async function vaeDecode(model: VaeCheckpoint, latent: Latent, signal?: AbortSignal): Promise<ImageBatch> {
  signal?.throwIfAborted();
  const vae = await model.useVae();
  const [n, , h, w] = latent.shape;
  const f = model.vaeScaleFactor;
  const decoded = (await vae.decode({ shape: latent.shape, data: latent.samples })).data;
  assertFiniteStage('VAE decode', decoded, 'decoded image', 'vae', vaeFiles(model));
  const H = h * f;
  const W = w * f;
  if (decoded.length !== n * 3 * H * W) throw new VaeStepError(`decoded image has ${decoded.length} values, expected ${n}×3×${H}×${W}`);
  const out = imageBatch(n, H, W, 3);
  const plane = H * W;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) out.data[(b * plane + i) * 3 + c] = Math.min(1, Math.max(0, (decoded[(b * 3 + c) * plane + i] + 1) / 2));
    }
  }
  return out;
}
