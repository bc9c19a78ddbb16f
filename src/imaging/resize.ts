// Resizing as ComfyUI's ImageScale node does it (comfy.utils.common_upscale): an optional centre crop
// to the target aspect, then torch.nn.functional.interpolate (align_corners False, no antialias) or,
// for 'lanczos', Pillow's LANCZOS on the uint8 image.
//
// Exactness, per method (against ComfyUI's saved PNG):
//   nearest-exact  bit-exact (same float32 index formula as torch; pixels are copied).
//   lanczos        bit-exact by construction: Pillow's coefficient and 22-bit fixed-point code path
//                  reimplemented in pillowResize.ts (ComfyUI's float→uint8 hop is lossless for uint8 input).
//   bilinear, bicubic (A = −0.75), area (adaptive average pooling)
//                  torch's formulas in float64 and rounded to nearest; ComfyUI computes in float32 and
//                  SaveImage truncates, so a pixel may differ by 1.
// crop 'center' reproduces ComfyUI's offsets, including Python's round-half-to-even.
// sharp is not used: its kernels (libvips, with antialiasing) do not match torch or Pillow.
import { assertImage, createImage, ImageError, type Image } from './image.ts';
import { areaTaps, bicubicTaps, bilinearTaps, centreCropOffsets, nearestExactIndex, type Taps } from './interpolationTaps.ts';
import { pillowResize } from './pillowResize.ts';
import { roundHalfEven } from './threshold.ts';

export type UpscaleMethod = 'nearest-exact' | 'bilinear' | 'area' | 'bicubic' | 'lanczos';
export type CropMode = 'disabled' | 'center';

export const UPSCALE_METHODS: readonly UpscaleMethod[] = ['nearest-exact', 'bilinear', 'area', 'bicubic', 'lanczos'];

/**
 * ComfyUI ImageScale(image, upscale_method, width, height, crop). A width or height of 0 keeps the
 * aspect ratio (round-half-even, at least 1); both 0 returns the image unchanged.
 */
export function resizeImage(img: Image, width: number, height: number, method: UpscaleMethod = 'nearest-exact', crop: CropMode = 'disabled'): Image {
  assertImage(img, 'resizeImage');
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new ImageError(`resizeImage: width and height must be integers ≥ 0, got ${width}×${height}`);
  }
  if (!UPSCALE_METHODS.includes(method)) throw new ImageError(`resizeImage: unknown method ${method} (expected one of ${UPSCALE_METHODS.join(', ')})`);
  if (crop !== 'disabled' && crop !== 'center') throw new ImageError(`resizeImage: unknown crop ${crop} (expected disabled or center)`);
  if (width === 0 && height === 0) return img;
  if (width === 0) width = Math.max(1, roundHalfEven((img.width * height) / img.height));
  if (height === 0) height = Math.max(1, roundHalfEven((img.height * width) / img.width));
  const src = crop === 'center' ? centreCrop(img, width / height) : img;
  switch (method) {
    case 'nearest-exact': return nearestExact(src, width, height);
    case 'lanczos': return pillowResize(src, width, height, 'lanczos');
    case 'bilinear': return separable(src, width, height, bilinearTaps);
    case 'bicubic': return separable(src, width, height, bicubicTaps);
    case 'area': return separable(src, width, height, areaTaps);
  }
}

/** common_upscale's crop: trim the longer side symmetrically so the aspect matches the target. */
export function centreCrop(img: Image, targetAspect: number): Image {
  const { x, y } = centreCropOffsets(img.width, img.height, targetAspect);
  if (x === 0 && y === 0) return img;
  const w = img.width - 2 * x;
  const h = img.height - 2 * y;
  if (w <= 0 || h <= 0) throw new ImageError(`resizeImage: centre crop of ${img.width}×${img.height} to aspect ${targetAspect} leaves nothing`);
  const out = createImage(w, h, img.channels);
  const c = img.channels;
  for (let r = 0; r < h; r++) {
    const from = ((r + y) * img.width + x) * c;
    out.data.set(img.data.subarray(from, from + w * c), r * w * c);
  }
  return out;
}

function nearestExact(img: Image, w: number, h: number): Image {
  const xs = nearestExactIndex(img.width, w);
  const ys = nearestExactIndex(img.height, h);
  const c = img.channels;
  const out = createImage(w, h, c);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (ys[y] * img.width + xs[x]) * c;
      const d = (y * w + x) * c;
      for (let k = 0; k < c; k++) out.data[d + k] = img.data[s + k];
    }
  }
  return out;
}

function separable(img: Image, w: number, h: number, taps: (n: number, out: number) => Taps): Image {
  const c = img.channels;
  const tx = taps(img.width, w);
  const ty = taps(img.height, h);
  const tmp = new Float64Array(w * img.height * c);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < c; k++) {
        let s = 0;
        for (let t = tx.start[x]; t < tx.start[x + 1]; t++) s += tx.wt[t] * img.data[(y * img.width + tx.idx[t]) * c + k];
        tmp[(y * w + x) * c + k] = s;
      }
    }
  }
  const out = createImage(w, h, c);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < c; k++) {
        let s = 0;
        for (let t = ty.start[y]; t < ty.start[y + 1]; t++) s += ty.wt[t] * tmp[(ty.idx[t] * w + x) * c + k];
        out.data[(y * w + x) * c + k] = Math.min(255, Math.max(0, Math.round(s)));
      }
    }
  }
  return out;
}
