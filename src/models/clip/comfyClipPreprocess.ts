// ComfyUI's clip_preprocess (comfy/clip_vision.py), what CLIPVisionEncode feeds the vision tower:
//   IMAGE [B, H, W, C] in 0–1 → [B, C, H, W]; unless already size × size:
//     crop: short side → size (each side round(scale · side)), else both sides → size;
//     torch bicubic interpolate, antialias=True, align_corners=False; then the centre size × size
//     (offsets (side − size) // 2);
//   round to 8 bit (clip(255·x, 0, 255).round() / 255), then (x − mean) / std per channel.
// It differs from transformers' CLIPImageProcessor (Pillow resize, truncated long side) used by SDRO's folder.
import type { ImageBatch } from '../../imaging/tensorBatch.ts';
import { roundHalfEven } from '../../imaging/threshold.ts';
import { ClipConfigError } from './config.ts';
import { antialiasBicubicMatrix, OPENCLIP_MEAN, OPENCLIP_STD } from './openClipVision.ts';
import type { F32Tensor } from './textEncoder.ts';

const f32 = Math.fround;

/** One [h, w] plane → [outH, outW] with torch's antialiased bicubic (width first, then height, float32 between). */
function resizePlane(src: Float32Array, h: number, w: number, outH: number, outW: number): Float32Array {
  const rw = antialiasBicubicMatrix(w, outW, false);
  const rh = antialiasBicubicMatrix(h, outH, false);
  const tmp = new Float32Array(h * outW);
  for (let y = 0; y < h; y++) for (let o = 0; o < outW; o++) {
    let acc = 0;
    for (let x = 0; x < w; x++) acc += rw[o * w + x] * src[y * w + x];
    tmp[y * outW + o] = acc;
  }
  const out = new Float32Array(outH * outW);
  for (let o = 0; o < outH; o++) for (let x = 0; x < outW; x++) {
    let acc = 0;
    for (let y = 0; y < h; y++) acc += rh[o * h + y] * tmp[y * outW + x];
    out[o * outW + x] = acc;
  }
  return out;
}

export interface ComfyClipPreprocessOptions {
  size: number;
  /** CLIPVisionEncode crop "center" (true) or "none" (false). */
  crop: boolean;
  mean?: readonly number[];
  std?: readonly number[];
}

/** IMAGE batch → pixel_values [B, 3, size, size]. */
export function comfyClipPreprocess(images: ImageBatch, o: ComfyClipPreprocessOptions): F32Tensor {
  const { batch: b, height: h, width: w, channels } = images;
  if (channels < 3) throw new ClipConfigError(`CLIP vision: needs an RGB image, got ${channels} channel(s)`);
  const size = o.size;
  const mean = o.mean ?? OPENCLIP_MEAN;
  const std = o.std ?? OPENCLIP_STD;
  let rh = h;
  let rw = w;
  const resize = !(h === size && w === size);
  if (resize) {
    if (o.crop) {
      const scale = size / Math.min(h, w);
      rh = roundHalfEven(scale * h);
      rw = roundHalfEven(scale * w);
    } else {
      rh = size;
      rw = size;
    }
  }
  const top = Math.floor((rh - size) / 2);
  const left = Math.floor((rw - size) / 2);
  const out = new Float32Array(b * 3 * size * size);
  const plane = new Float32Array(h * w);
  for (let n = 0; n < b; n++) {
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < h * w; i++) plane[i] = images.data[(n * h * w + i) * channels + c];
      const resized = resize ? resizePlane(plane, h, w, rh, rw) : plane;
      const m = f32(mean[c]);
      const s = f32(std[c]);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const v = f32(resized[(top + y) * rw + left + x] * 255);
          const q = f32(Math.min(255, Math.max(0, roundHalfEven(v))) / 255);
          out[((n * 3 + c) * size + y) * size + x] = f32(f32(q - m) / s);
        }
      }
    }
  }
  return { shape: [b, 3, size, size], data: out };
}

