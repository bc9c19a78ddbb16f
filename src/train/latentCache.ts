// Training images → VAE latents, cached on disk: a latent is keyed by the image bytes, the target
// size and the VAE's identity, so a second run (or a resumed one) never re-encodes. Images are resized
// to cover the target and centre-cropped (lanczos), scaled to [−1, 1], encoded, and the posterior mean
// is multiplied by the latent scale. (kohya caches one posterior sample; the mean keeps runs reproducible.)
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage, type Image } from '../imaging/image.ts';
import { resizeImage } from '../imaging/resize.ts';
import type { VaeModel } from '../models/vae/loadVae.ts';
import { readFileLimited } from '../files/readLimited.ts';
import { openSafetensors, writeSafetensors } from '../weights/safetensors.ts';

export interface CachedLatent {
  shape: [number, number, number, number];
  data: Float32Array;
}

/** HWC bytes → planar [1, 3, H, W] in [−1, 1]. */
export function imageToTensor(img: Image): Float32Array {
  const { width: w, height: h } = img;
  const out = new Float32Array(3 * w * h);
  for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) out[c * w * h + i] = img.data[i * img.channels + c] / 127.5 - 1;
  return out;
}

export async function loadTrainingImage(path: string, width: number, height: number): Promise<Image> {
  const img = await decodeImage(readFileLimited(path), 3, path);
  return resizeImage(img, width, height, 'lanczos', 'center');
}

export async function cachedLatent(vae: VaeModel, vaeId: string, latentScale: number, imagePath: string, width: number, height: number, cacheDir: string): Promise<CachedLatent> {
  const bytes = readFileLimited(imagePath);
  const key = createHash('sha256').update(bytes).update(`|${width}x${height}|${vaeId}|${latentScale}`).digest('hex').slice(0, 32);
  const file = join(cacheDir, `${key}.safetensors`);
  if (existsSync(file)) {
    const r = openSafetensors(file);
    try {
      return { shape: r.info('latent').shape as [number, number, number, number], data: r.readF32('latent') };
    } finally {
      r.close();
    }
  }
  const img = resizeImage(await decodeImage(bytes, 3, imagePath), width, height, 'lanczos', 'center');
  const enc = await vae.encode({ shape: [1, 3, height, width], data: imageToTensor(img) });
  const data = enc.mean.data.map((v) => v * latentScale);
  const shape = enc.mean.shape as [number, number, number, number];
  mkdirSync(cacheDir, { recursive: true });
  await writeSafetensors(file, [{ name: 'latent', dtype: 'F32', shape: [...shape], data }]);
  return { shape, data };
}
