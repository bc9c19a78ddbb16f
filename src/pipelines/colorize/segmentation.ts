// Character segmentation with a user-supplied ONNX model in the anime-seg / ISNet style (the SDRO demo's
// "character segmentation"): input 1×3×S×S RGB in [0,1], first output a 1-channel mask of the same size.
// The image is letterboxed into S×S (aspect kept, centred, zero padding) as anime-seg does, the mask is cropped
// back and resized to the image. Outputs outside [0,1] are taken as logits and passed through a sigmoid.
import { existsSync } from 'node:fs';
import { assertImage, convertChannels, createImage, type Image } from '../../imaging/image.ts';
import { flattenAlpha } from '../../imaging/lineart.ts';
import { maskFromImage, type Mask } from '../../imaging/masks.ts';
import { resizeImage } from '../../imaging/resize.ts';
import { openOnnx, type OnnxModel } from '../../runtime/openOnnx.ts';
import type { ExecutionProvider } from '../../runtime/session.ts';

export class SegmentationError extends Error {
  override name = 'SegmentationError';
}

export interface SegmentationModel {
  /** The square input side S the model runs at. */
  readonly size: number;
  /** Foreground mask (1 = character), same size as the image. */
  segment(image: Image): Promise<Mask>;
  release(): Promise<void>;
}

export interface LoadSegmentationOptions {
  /** Input side when the model's input is dynamic (anime-seg ISNet: 1024). */
  size?: number;
  provider?: ExecutionProvider;
  threads?: number;
}

/** Where the image sits inside the S×S letterbox. */
export function letterbox(width: number, height: number, size: number): { w: number; h: number; left: number; top: number } {
  const scale = size / Math.max(width, height);
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  return { w, h, left: Math.floor((size - w) / 2), top: Math.floor((size - h) / 2) };
}

/** image → [1,3,S,S] float32 in [0,1] (letterboxed). */
export function segmentationInput(image: Image, size: number): Float32Array {
  const rgb = convertChannels(flattenAlpha(image), 3);
  const box = letterbox(rgb.width, rgb.height, size);
  const scaled = box.w === rgb.width && box.h === rgb.height ? rgb : resizeImage(rgb, box.w, box.h, 'bilinear');
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let y = 0; y < box.h; y++) {
    for (let x = 0; x < box.w; x++) {
      const s = (y * box.w + x) * 3;
      const d = (y + box.top) * size + x + box.left;
      for (let c = 0; c < 3; c++) out[c * plane + d] = scaled.data[s + c] / 255;
    }
  }
  return out;
}

/** The model's S×S output (first channel) → a mask of the image's size. */
export function maskFromOutput(output: Float32Array, size: number, width: number, height: number): Mask {
  if (output.length < size * size) throw new SegmentationError(`segmentation model output has ${output.length} values, expected at least ${size}×${size}`);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < size * size; i++) {
    const v = output[i];
    if (!Number.isFinite(v)) throw new SegmentationError('segmentation model output contains NaN or infinity');
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const logits = lo < 0 || hi > 1;
  const box = letterbox(width, height, size);
  const crop = createImage(box.w, box.h, 1);
  for (let y = 0; y < box.h; y++) {
    for (let x = 0; x < box.w; x++) {
      const v = output[(y + box.top) * size + x + box.left];
      crop.data[y * box.w + x] = Math.round(255 * (logits ? 1 / (1 + Math.exp(-v)) : v));
    }
  }
  const full = box.w === width && box.h === height ? crop : resizeImage(crop, width, height, 'bilinear');
  return maskFromImage(full, 'red');
}

/** Loads an ONNX segmentation model (anime-seg isnetis.onnx and the like). */
export async function loadSegmentationModel(path: string, opts: LoadSegmentationOptions = {}): Promise<SegmentationModel> {
  if (!existsSync(path)) throw new SegmentationError(`segmentation model ${path} does not exist`);
  let model: OnnxModel;
  try {
    model = await openOnnx(path, { provider: opts.provider, threads: opts.threads });
  } catch (e) {
    throw new SegmentationError(`${path}: onnxruntime cannot load this segmentation model (${(e as Error).message})`);
  }
  const input = model.inputs[0];
  if (!input) {
    await model.release();
    throw new SegmentationError(`${path}: expected an input of shape [1,3,S,S], the model has no inputs`);
  }
  const dims = input.shape ?? [];
  const fixed = typeof dims[2] === 'number' && dims[2] > 0 ? dims[2] : undefined;
  if (dims.length && (dims.length !== 4 || (typeof dims[1] === 'number' && dims[1] !== 3))) {
    await model.release();
    throw new SegmentationError(`${path}: expected an input of shape [1,3,S,S], the model takes [${dims.join(',')}]`);
  }
  const size = fixed ?? opts.size ?? 1024;
  if (!Number.isInteger(size) || size < 8) throw new SegmentationError(`segmentation size must be an integer ≥ 8, got ${size}`);
  const outputName = model.outputNames[0];
  return {
    size,
    async segment(image) {
      assertImage(image, 'segmentation');
      const feed = { dtype: 'f32' as const, shape: [1, 3, size, size], data: segmentationInput(image, size) };
      let out;
      try {
        out = await model.run({ [input.name]: feed });
      } catch (e) {
        throw new SegmentationError(`segmentation model failed: ${(e as Error).message}`);
      }
      const t = out[outputName];
      if (t.dtype !== 'f32') throw new SegmentationError(`segmentation model output is ${t.dtype}, expected f32`);
      return maskFromOutput(t.data as Float32Array, size, image.width, image.height);
    },
    release: () => model.release(),
  };
}
