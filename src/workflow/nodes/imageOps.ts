// Image nodes with ComfyUI's names, inputs and arithmetic (float32 on [B, H, W, C]): ImageInvert,
// EmptyImage, ImageScale, ImageScaleBy, ImageBlend, ImageCrop. Resizing is float (imaging/interpolate.ts),
// except lanczos, which goes through 8 bit as ComfyUI's (Pillow) does.
import { centreCropPlanes, interpolatePlanes, type FloatPlanes } from '../../imaging/interpolate.ts';
import { resizeImage, UPSCALE_METHODS, type CropMode, type UpscaleMethod } from '../../imaging/resize.ts';
import { roundHalfEven } from '../../imaging/threshold.ts';
import { bilinearResize as bilinearPlane } from '../../pipelines/generate/pixels.ts';
import type { NodeDef } from '../nodeSpec.ts';
import { batchEntryToImage, imageBatch, imagesToBatch, type ImageBatch } from '../values.ts';

/**
 * ComfyUI's ImageScale over a batch: a 0 side keeps the aspect (round half to even, at least 1); lanczos goes
 * through 8 bit as ComfyUI's does (Pillow), every other method stays in float (imaging/interpolate.ts).
 */
export function scaleImageBatch(img: ImageBatch, width: number, height: number, method: UpscaleMethod, crop: CropMode): ImageBatch {
  if (width === 0 && height === 0) return img;
  if (method === 'lanczos') {
    const frames = Array.from({ length: img.batch }, (_, b) => resizeImage(batchEntryToImage(img, b), width, height, method, crop));
    return imagesToBatch(frames);
  }
  if (width === 0) width = Math.max(1, roundHalfEven((img.width * height) / img.height));
  if (height === 0) height = Math.max(1, roundHalfEven((img.height * width) / img.width));
  let planes: FloatPlanes = { n: img.batch, h: img.height, w: img.width, c: img.channels, data: img.data };
  if (crop === 'center') planes = centreCropPlanes(planes, width, height);
  const out = interpolatePlanes(planes, height, width, method);
  return imageBatch(img.batch, height, width, img.channels, out.data);
}

export const ImageInvert: NodeDef = {
  name: 'ImageInvert',
  displayName: 'Invert Image',
  category: 'image',
  required: { image: { type: 'IMAGE', link: true } },
  outputs: [{ type: 'IMAGE' }],
  run(v) {
    const img = v.image as ImageBatch;
    const out = imageBatch(img.batch, img.height, img.width, img.channels);
    for (let i = 0; i < img.data.length; i++) out.data[i] = 1 - img.data[i];
    return { outputs: [out] };
  },
};

export const EmptyImage: NodeDef = {
  name: 'EmptyImage',
  category: 'image',
  required: {
    width: { type: 'INT', default: 512, min: 1, max: 16384, step: 1 },
    height: { type: 'INT', default: 512, min: 1, max: 16384, step: 1 },
    batch_size: { type: 'INT', default: 1, min: 1, max: 4096 },
    color: { type: 'INT', default: 0, min: 0, max: 0xffffff, step: 1, extra: { display: 'color' } },
  },
  outputs: [{ type: 'IMAGE' }],
  run(v) {
    const [w, h, n, color] = [Number(v.width), Number(v.height), Number(v.batch_size), Number(v.color)];
    const rgb = [(color >> 16) & 0xff, (color >> 8) & 0xff, color & 0xff].map((c) => Math.fround(c / 0xff));
    const out = imageBatch(n, h, w, 3);
    for (let i = 0; i < n * h * w; i++) for (let c = 0; c < 3; c++) out.data[i * 3 + c] = rgb[c];
    return { outputs: [out] };
  },
};

export const ImageScale: NodeDef = {
  name: 'ImageScale',
  displayName: 'Upscale Image',
  category: 'image/upscaling',
  required: {
    image: { type: 'IMAGE', link: true },
    upscale_method: { type: 'COMBO', options: UPSCALE_METHODS },
    width: { type: 'INT', default: 512, min: 0, max: 16384, step: 1 },
    height: { type: 'INT', default: 512, min: 0, max: 16384, step: 1 },
    crop: { type: 'COMBO', options: ['disabled', 'center'] },
  },
  outputs: [{ type: 'IMAGE' }],
  run(v) {
    return { outputs: [scaleImageBatch(v.image as ImageBatch, Number(v.width), Number(v.height), v.upscale_method as UpscaleMethod, v.crop as CropMode)] };
  },
};

export const ImageScaleBy: NodeDef = {
  name: 'ImageScaleBy',
  displayName: 'Upscale Image By',
  category: 'image/upscaling',
  required: {
    image: { type: 'IMAGE', link: true },
    upscale_method: { type: 'COMBO', options: UPSCALE_METHODS },
    scale_by: { type: 'FLOAT', default: 1, min: 0.01, max: 8, step: 0.01 },
  },
  outputs: [{ type: 'IMAGE' }],
  run(v) {
    const img = v.image as ImageBatch;
    const s = Number(v.scale_by);
    const w = Math.max(1, roundHalfEven(img.width * s));
    const h = Math.max(1, roundHalfEven(img.height * s));
    return { outputs: [scaleImageBatch(img, w, h, v.upscale_method as UpscaleMethod, 'disabled')] };
  },
};

const BLEND_MODES = ['normal', 'multiply', 'screen', 'overlay', 'soft_light', 'difference'] as const;
type BlendMode = (typeof BLEND_MODES)[number];

function blendPixel(a: number, b: number, mode: BlendMode): number {
  switch (mode) {
    case 'normal': return b;
    case 'multiply': return a * b;
    case 'screen': return 1 - (1 - a) * (1 - b);
    case 'overlay': return a <= 0.5 ? 2 * a * b : 1 - 2 * (1 - a) * (1 - b);
    case 'soft_light': {
      const g = a <= 0.25 ? ((16 * a - 12) * a + 4) * a : Math.sqrt(a);
      return b <= 0.5 ? a - (1 - 2 * b) * a * (1 - a) : a + (2 * b - 1) * (g - a);
    }
    case 'difference': return a - b;
  }
}

export const ImageBlend: NodeDef = {
  name: 'ImageBlend',
  displayName: null,
  category: 'image/postprocessing',
  pythonModule: 'comfy_extras.nodes_post_processing',
  v3: true,
  required: {
    image1: { type: 'IMAGE', link: true },
    image2: { type: 'IMAGE', link: true },
    blend_factor: { type: 'FLOAT', default: 0.5, min: 0, max: 1, step: 0.01 },
    blend_mode: { type: 'COMBO', options: BLEND_MODES },
  },
  outputs: [{ type: 'IMAGE' }],
  run(v) {
    const a = v.image1 as ImageBatch;
    let b = v.image2 as ImageBatch;
    if (b.width !== a.width || b.height !== a.height) b = scaleImageBatch(b, a.width, a.height, 'bicubic', 'center');
    const f = Number(v.blend_factor);
    const mode = v.blend_mode as BlendMode;
    const out = imageBatch(a.batch, a.height, a.width, a.channels);
    const per = a.height * a.width * a.channels;
    const bPer = b.height * b.width * b.channels;
    for (let n = 0; n < a.batch; n++) {
      const nb = Math.min(n, b.batch - 1); // torch broadcasting of a single image2 over the batch
      for (let i = 0; i < per; i++) {
        const x = a.data[n * per + i];
        const y = b.data[nb * bPer + Math.min(i, bPer - 1)];
        const mixed = x * (1 - f) + blendPixel(x, y, mode) * f;
        out.data[n * per + i] = Math.min(1, Math.max(0, mixed));
      }
    }
    return { outputs: [out] };
  },
};

export const ImageCrop: NodeDef = {
  name: 'ImageCrop',
  displayName: 'Image Crop',
  category: 'image/transform',
  required: {
    image: { type: 'IMAGE', link: true },
    width: { type: 'INT', default: 512, min: 1, max: 16384, step: 1 },
    height: { type: 'INT', default: 512, min: 1, max: 16384, step: 1 },
    x: { type: 'INT', default: 0, min: 0, max: 16384, step: 1 },
    y: { type: 'INT', default: 0, min: 0, max: 16384, step: 1 },
  },
  outputs: [{ type: 'IMAGE' }],
  run(v) {
    const img = v.image as ImageBatch;
    const x = Math.min(Number(v.x), img.width - 1);
    const y = Math.min(Number(v.y), img.height - 1);
    const w = Math.min(Number(v.width), img.width - x);
    const h = Math.min(Number(v.height), img.height - y);
    const c = img.channels;
    const out = imageBatch(img.batch, h, w, c);
    for (let n = 0; n < img.batch; n++) {
      for (let r = 0; r < h; r++) {
        const src = ((n * img.height + y + r) * img.width + x) * c;
        out.data.set(img.data.subarray(src, src + w * c), ((n * h + r) * w) * c);
      }
    }
    return { outputs: [out] };
  },
};

/**
 * ImageCompositeMasked: `source` pasted onto `destination` at (x, y) through `mask` (float blend, as
 * ComfyUI). One destination image is broadcast over a source batch (ComfyUI would cut the source to one),
 * so an inpainted batch pastes every candidate back.
 */
export const ImageCompositeMasked: NodeDef = {
  name: 'ImageCompositeMasked',
  category: 'image',
  required: {
    destination: { type: 'IMAGE', link: true },
    source: { type: 'IMAGE', link: true },
    x: { type: 'INT', default: 0, min: 0, max: 16384, step: 1 },
    y: { type: 'INT', default: 0, min: 0, max: 16384, step: 1 },
    resize_source: { type: 'BOOLEAN', default: false },
  },
  optional: { mask: { type: 'MASK', link: true } },
  outputs: [{ type: 'IMAGE' }],
  run(v) {
    const dst = v.destination as ImageBatch;
    let src = v.source as ImageBatch;
    if (v.resize_source === true && (src.width !== dst.width || src.height !== dst.height)) src = scaleImageBatch(src, dst.width, dst.height, 'bilinear', 'disabled');
    const mask = v.mask as { batch: number; width: number; height: number; data: Float32Array } | undefined;
    const n = Math.max(dst.batch, src.batch);
    const out = imageBatch(n, dst.height, dst.width, dst.channels);
    const left = Math.min(Number(v.x), dst.width);
    const top = Math.min(Number(v.y), dst.height);
    const visW = Math.min(src.width, dst.width - left);
    const visH = Math.min(src.height, dst.height - top);
    let m: Float32Array | undefined;
    if (mask) {
      m = mask.data.subarray(0, mask.width * mask.height);
      if (mask.width !== src.width || mask.height !== src.height) m = bilinearPlane(m, mask.width, mask.height, src.width, src.height);
    }
    const dPer = dst.height * dst.width * dst.channels;
    const sPer = src.height * src.width * src.channels;
    for (let b = 0; b < n; b++) {
      out.data.set(dst.data.subarray(Math.min(b, dst.batch - 1) * dPer, (Math.min(b, dst.batch - 1) + 1) * dPer), b * dPer);
      const sb = Math.min(b, src.batch - 1);
      for (let y = 0; y < visH; y++) {
        for (let x = 0; x < visW; x++) {
          const a = m ? m[y * src.width + x] : 1;
          const di = b * dPer + ((top + y) * dst.width + left + x) * dst.channels;
          const si = sb * sPer + (y * src.width + x) * src.channels;
          for (let c = 0; c < dst.channels; c++) out.data[di + c] = a * src.data[si + Math.min(c, src.channels - 1)] + (1 - a) * out.data[di + c];
        }
      }
    }
    return { outputs: [out] };
  },
};
