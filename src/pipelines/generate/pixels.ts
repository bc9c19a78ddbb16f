// Conversions between 8-bit images / masks and the float NCHW tensors the models take, with ComfyUI's
// conventions: LoadImage divides by 255, VAE input is 2x − 1, VAE output is clamp((x + 1)/2, 0, 1),
// and SaveImage writes clip(255·x).astype(uint8) — truncation, not rounding.
import { convertChannels, createImage, type Image } from '../../imaging/image.ts';
import type { Mask } from '../../imaging/masks.ts';

/** RGB image → [1, 3, H, W] in [0, 1]. */
export function imageToUnitTensor(img: Image): Float32Array {
  const rgb = convertChannels(img, 3);
  const n = rgb.width * rgb.height;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[c * n + i] = rgb.data[i * 3 + c] / 255;
  return out;
}

/** [B, 3, H, W] VAE output in [-1, 1] → B RGB images (ComfyUI VAEDecode + SaveImage). */
export function vaeOutputToImages(data: Float32Array, batch: number, width: number, height: number): Image[] {
  const n = width * height;
  if (data.length !== batch * 3 * n) throw new Error(`decoded image has ${data.length} values, expected ${batch}×3×${height}×${width}`);
  const images: Image[] = [];
  for (let b = 0; b < batch; b++) {
    const img = createImage(width, height, 3);
    const base = b * 3 * n;
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3; c++) {
        const v = Math.fround(Math.min(1, Math.max(0, (data[base + c * n + i] + 1) / 2)));
        img.data[i * 3 + c] = Math.min(255, Math.max(0, Math.trunc(Math.fround(255 * v))));
      }
    }
    images.push(img);
  }
  return images;
}

/**
 * torch.nn.functional.interpolate(mode="bilinear", align_corners=False) of one [H, W] plane to
 * [outH, outW] (no antialiasing, so downsampling samples between two source pixels).
 */
export function bilinearResize(src: Float32Array, w: number, h: number, outW: number, outH: number): Float32Array {
  const out = new Float32Array(outW * outH);
  const coords = (outSize: number, inSize: number) => {
    const scale = inSize / outSize;
    return Array.from({ length: outSize }, (_, o) => {
      const x = Math.max(0, (o + 0.5) * scale - 0.5);
      const i0 = Math.min(Math.floor(x), inSize - 1);
      const i1 = Math.min(i0 + 1, inSize - 1);
      const t = x - i0;
      return { i0, i1, t };
    });
  };
  const ys = coords(outH, h);
  const xs = coords(outW, w);
  for (let y = 0; y < outH; y++) {
    const { i0: y0, i1: y1, t: ty } = ys[y];
    for (let x = 0; x < outW; x++) {
      const { i0: x0, i1: x1, t: tx } = xs[x];
      const top = src[y0 * w + x0] * (1 - tx) + src[y0 * w + x1] * tx;
      const bot = src[y1 * w + x0] * (1 - tx) + src[y1 * w + x1] * tx;
      out[y * outW + x] = top * (1 - ty) + bot * ty;
    }
  }
  return out;
}

/** ComfyUI's crop to a multiple of `m` (VAEEncode / VAEEncodeForInpaint): centred offsets (size % m) / 2. */
export function cropOffsets(width: number, height: number, m: number): { x: number; y: number; width: number; height: number } {
  const cw = Math.floor(width / m) * m;
  const ch = Math.floor(height / m) * m;
  return { x: Math.floor((width % m) / 2), y: Math.floor((height % m) / 2), width: cw, height: ch };
}

export function cropImage(img: Image, x: number, y: number, width: number, height: number): Image {
  const out = createImage(width, height, img.channels);
  const c = img.channels;
  for (let r = 0; r < height; r++) out.data.set(img.data.subarray(((y + r) * img.width + x) * c, ((y + r) * img.width + x + width) * c), r * width * c);
  return out;
}

export function cropMask(m: Mask, x: number, y: number, width: number, height: number): Mask {
  const data = new Float32Array(width * height);
  for (let r = 0; r < height; r++) data.set(m.data.subarray((y + r) * m.width + x, (y + r) * m.width + x + width), r * width);
  return { width, height, data };
}

/** out = base·(1 − m) + top·m per pixel (ComfyUI ImageCompositeMasked at x = y = 0); m = 0 keeps `base` exactly. */
export function compositeMasked(base: Image, top: Image, m: Mask): Image {
  const b3 = convertChannels(base, 3);
  const t3 = convertChannels(top, 3);
  const out = createImage(b3.width, b3.height, 3);
  for (let i = 0; i < m.data.length; i++) {
    const a = Math.min(1, Math.max(0, m.data[i]));
    for (let c = 0; c < 3; c++) {
      const k = i * 3 + c;
      out.data[k] = a === 0 ? b3.data[k] : a === 1 ? t3.data[k] : Math.round(b3.data[k] * (1 - a) + t3.data[k] * a);
    }
  }
  return out;
}
