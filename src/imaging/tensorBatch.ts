// Image and mask batches laid out as ComfyUI's tensors, so node semantics carry over: IMAGE is
// [B, H, W, C] float32 in 0–1 (C = 3, or 4 from nodes that keep alpha), MASK is [B, H, W]. The workflow
// layer passes these between nodes; pipelines take them for node-sized steps (VAE encode, decode).
import { createImage, type Image } from './image.ts';

export interface ImageBatch {
  readonly batch: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  /** Row-major B·H·W·C. */
  readonly data: Float32Array;
}

export interface MaskBatch {
  readonly batch: number;
  readonly height: number;
  readonly width: number;
  readonly data: Float32Array;
}

export function imageBatch(batch: number, height: number, width: number, channels: number, data?: Float32Array): ImageBatch {
  const n = batch * height * width * channels;
  if (data && data.length !== n) throw new Error(`image data has ${data.length} values, expected ${batch}×${height}×${width}×${channels}`);
  return { batch, height, width, channels, data: data ?? new Float32Array(n) };
}

export function maskBatch(batch: number, height: number, width: number, data?: Float32Array): MaskBatch {
  const n = batch * height * width;
  if (data && data.length !== n) throw new Error(`mask data has ${data.length} values, expected ${batch}×${height}×${width}`);
  return { batch, height, width, data: data ?? new Float32Array(n) };
}

/** uint8 HWC → float /255, as ComfyUI's `np.array(i).astype(np.float32) / 255.0`. */
export function imagesToBatch(images: readonly Image[]): ImageBatch {
  const { width, height, channels } = images[0];
  const out = imageBatch(images.length, height, width, channels);
  images.forEach((img, b) => {
    if (img.width !== width || img.height !== height || img.channels !== channels) throw new Error('images in one batch must share size and channels');
    const off = b * img.data.length;
    for (let i = 0; i < img.data.length; i++) out.data[off + i] = Math.fround(img.data[i] / 255);
  });
  return out;
}

/** One batch entry → uint8, as SaveImage: `np.clip(255. * i, 0, 255).astype(np.uint8)` (truncating). */
export function batchEntryToImage(batch: ImageBatch, index: number): Image {
  const c = batch.channels;
  if (c !== 1 && c !== 3 && c !== 4) throw new Error(`cannot save an image with ${c} channels`);
  const img = createImage(batch.width, batch.height, c as 1 | 3 | 4);
  const per = batch.width * batch.height * c;
  const src = batch.data.subarray(index * per, (index + 1) * per);
  for (let i = 0; i < per; i++) {
    const v = Math.fround(255 * src[i]);
    img.data[i] = v <= 0 || Number.isNaN(v) ? 0 : v >= 255 ? 255 : Math.trunc(v);
  }
  return img;
}


export function describeValue(v: unknown): string {
  if (v && typeof v === 'object' && 'data' in v && 'batch' in v) {
    const b = v as MaskBatch & { channels?: number };
    return b.channels !== undefined ? `IMAGE [${b.batch}, ${b.height}, ${b.width}, ${b.channels}]` : `MASK [${b.batch}, ${b.height}, ${b.width}]`;
  }
  return String(v);
}
