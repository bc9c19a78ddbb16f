// T2I-Adapters with diffusers v0.21's StableDiffusionAdapterPipeline semantics:
//   - the control image is resized with Pillow's LANCZOS (no crop) to the size the adapter must see (the
//     output image size for SD adapters on SD checkpoints; see planT2IAdapter) and divided by 255; a
//     1-channel (sketch) adapter gets the image's grey;
//   - the adapter runs once per generation, not per step; its features are multiplied by `scale`
//     (adapter_conditioning_scale) and, for several adapters, summed (MultiAdapter with adapter_weights);
//   - the same features go to every batch entry, both CFG halves included, at every step.
// Scale 0 drops the adapter: the UNet then runs exactly as without one.
import type { Image } from '../../imaging/image.ts';
import { convertChannels } from '../../imaging/image.ts';
import { resizeImage } from '../../imaging/resize.ts';
import { openT2IAdapter, planT2IAdapter } from '../../models/checkpoint/adapterRunner.ts';
import type { UNetConfig } from '../../models/unet/config.ts';
import type { CompileOptions } from '../../runtime/session.ts';

export interface T2IAdapterUse {
  /** Adapter: diffusers T2IAdapter folder, or a .safetensors file with diffusers keys. */
  path: string;
  /** The control image (sketch, line art, depth, …), any size. */
  image: Image;
  /** adapter_conditioning_scale; default 1 (range 0–10). */
  scale?: number;
}

export class T2IAdapterUseError extends Error {
  override name = 'T2IAdapterUseError';
}

export function validateAdapterUse(u: T2IAdapterUse, index: number): void {
  const s = u.scale ?? 1;
  if (typeof u.path !== 'string' || !u.path) throw new T2IAdapterUseError(`T2I-Adapter ${index + 1}: no path`);
  if (!u.image) throw new T2IAdapterUseError(`T2I-Adapter ${index + 1}: no image`);
  if (!(s >= 0 && s <= 10)) throw new T2IAdapterUseError(`T2I-Adapter ${index + 1}: scale must be in [0, 10], got ${s}`);
}

/** Image → [1, channels, H, W] in [0, 1] (channels 1: grey, 3: RGB). */
function imageTensor(img: Image, channels: number): Float32Array {
  if (channels !== 1 && channels !== 3) throw new T2IAdapterUseError(`T2I-Adapters with ${channels} input channels are not supported (1 or 3)`);
  const src = convertChannels(img, channels);
  const n = src.width * src.height;
  const out = new Float32Array(channels * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < channels; c++) out[c * n + i] = src.data[i * channels + c] / 255;
  return out;
}

/**
 * Runs every adapter with a non-zero scale on its image and returns the summed, scaled features for one
 * batch entry (undefined when no adapter applies). Adapters are released before returning.
 */
export async function adapterFeatures(uses: readonly T2IAdapterUse[], unet: UNetConfig, latentWidth: number, latentHeight: number, opts: CompileOptions = {}, signal?: AbortSignal): Promise<Float32Array[] | undefined> {
  uses.forEach(validateAdapterUse);
  let sum: Float32Array[] | undefined;
  for (const use of uses.filter((u) => (u.scale ?? 1) !== 0)) {
    signal?.throwIfAborted();
    const adapter = openT2IAdapter(use.path, opts);
    try {
      const plan = planT2IAdapter(unet, adapter.config, latentHeight, latentWidth);
      const pixels = resizeImage(convertChannels(use.image, adapter.config.inChannels === 1 ? 1 : 3), plan.width, plan.height, 'lanczos');
      const features = (await adapter.forward({ batch: 1, height: plan.height, width: plan.width }, imageTensor(pixels, adapter.config.inChannels))).slice(0, plan.count);
      const scale = Math.fround(use.scale ?? 1);
      sum ??= [];
      features.forEach((f, k) => {
        const acc = (sum![k] ??= new Float32Array(f.length));
        for (let i = 0; i < f.length; i++) acc[i] += f[i] * scale;
      });
    } finally {
      await adapter.release();
    }
  }
  return sum;
}
