// The comic study's face detailer (ComfyUI Impact Pack FaceDetailer, simplified): for each region —
// from a detector or given by the caller —
//   1. crop the region enlarged by `cropFactor` around its centre (clamped to the image);
//   2. upscale the crop so its longer side is `guideSize` (never downscale unless it exceeds `maxSize`),
//      rounded to what the checkpoint accepts;
//   3. img2img it at `denoise` (default 0.45) with its own prompt, denoising only the region's box
//      (noise mask, as Impact's noise_mask = true);
//   4. scale the result back and paste it over the original through the box mask feathered by
//      `feather` pixels. Pixels outside the feathered box are never touched.
// Regions are processed one after another on the running result, so overlapping regions compose.
import { convertChannels, type Image } from '../../imaging/image.ts';
import { createMask, featherMask, type Mask } from '../../imaging/masks.ts';
import { resizeImage } from '../../imaging/resize.ts';
import type { Checkpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import { generate, type GenerateOptions, type GenerateRequest } from '../generate/generate.ts';
import { compositeMasked, cropImage } from '../generate/pixels.ts';
import type { DetectOptions, Detector } from './detector.ts';

export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface DetailerRequest {
  image: Image;
  /** Regions given by the caller (image pixels); used instead of `detector` when present. */
  boxes?: readonly Box[];
  detector?: Detector;
  detect?: DetectOptions;
  prompt: string;
  negative?: string;
  seed: number | bigint;
  /** Default 0.45. */
  denoise?: number;
  steps?: number;
  cfg?: number;
  sampler?: string;
  scheduler?: string;
  /** Region enlargement around its centre (default 3, Impact's crop_factor). */
  cropFactor?: number;
  /** Longer side the crop is upscaled to (default 512). */
  guideSize?: number;
  /** Largest side sent to the model (default 1024). */
  maxSize?: number;
  /** Feather of the paste-back mask in image pixels (default 5% of the box's shorter side, at least 2). */
  feather?: number;
  /** Regions smaller than this (either side, image pixels) are skipped (default 8). */
  minSize?: number;
  /** Extra settings passed to every img2img (LoRAs, ControlNets, clip skip …). */
  extra?: Partial<Omit<GenerateRequest, 'init' | 'mask' | 'prompt' | 'negative' | 'seed'>>;
}

export interface DetailedRegion {
  box: Box;
  /** The enlarged crop actually re-generated, in image pixels. */
  crop: Box;
  /** Size the crop was processed at. */
  size: [number, number];
  seed: string;
}

export interface DetailerResult {
  image: Image;
  regions: DetailedRegion[];
}

export class DetailerError extends Error {
  override name = 'DetailerError';
}

/** The enlarged, clamped, integer crop for a box. */
export function cropRegion(box: Box, factor: number, width: number, height: number): Box {
  const cx = (box.x1 + box.x2) / 2;
  const cy = (box.y1 + box.y2) / 2;
  const hw = ((box.x2 - box.x1) * factor) / 2;
  const hh = ((box.y2 - box.y1) * factor) / 2;
  return {
    x1: Math.max(0, Math.floor(cx - hw)),
    y1: Math.max(0, Math.floor(cy - hh)),
    x2: Math.min(width, Math.ceil(cx + hw)),
    y2: Math.min(height, Math.ceil(cy + hh)),
  };
}

/** Processing size: longer side → guideSize (capped by maxSize), both sides multiples of `multiple`. */
export function processingSize(w: number, h: number, guideSize: number, maxSize: number, multiple: number): [number, number] {
  let scale = guideSize / Math.max(w, h);
  if (scale < 1) scale = Math.min(1, maxSize / Math.max(w, h));
  scale = Math.min(scale, maxSize / Math.max(w, h));
  const round = (v: number) => Math.max(multiple, Math.round((v * scale) / multiple) * multiple);
  return [round(w), round(h)];
}

function boxMask(width: number, height: number, box: Box, feather: number): Mask {
  const m = createMask(width, height);
  const x1 = Math.max(0, Math.floor(box.x1)), x2 = Math.min(width, Math.ceil(box.x2));
  const y1 = Math.max(0, Math.floor(box.y1)), y2 = Math.min(height, Math.ceil(box.y2));
  for (let y = y1; y < y2; y++) m.data.fill(1, y * width + x1, y * width + x2);
  return feather > 0 ? featherMask(m, feather, 'linear') : m;
}

export async function detail(ckpt: Checkpoint, req: DetailerRequest, opts: GenerateOptions = {}): Promise<DetailerResult> {
  const denoise = req.denoise ?? 0.45;
  if (!(denoise > 0 && denoise <= 1)) throw new DetailerError(`detailer denoise must be in (0, 1], got ${denoise}`);
  const cropFactor = req.cropFactor ?? 3;
  if (!(cropFactor >= 1 && cropFactor <= 10)) throw new DetailerError(`crop factor must be in [1, 10], got ${cropFactor}`);
  const guide = req.guideSize ?? 512;
  const maxSize = req.maxSize ?? 1024;
  if (!(guide > 0 && maxSize >= guide)) throw new DetailerError(`guide size ${guide} must be positive and at most max size ${maxSize}`);
  const image = convertChannels(req.image, 3);
  let boxes: Box[];
  if (req.boxes) boxes = [...req.boxes];
  else if (req.detector) boxes = await req.detector.detect(image, req.detect);
  else throw new DetailerError('give boxes or a detector');
  for (const b of boxes) {
    if (![b.x1, b.y1, b.x2, b.y2].every(Number.isFinite) || b.x2 <= b.x1 || b.y2 <= b.y1) throw new DetailerError(`invalid box ${JSON.stringify(b)}: need x1 < x2 and y1 < y2`);
  }
  const minSize = req.minSize ?? 8;
  const multiple = ckpt.vaeScaleFactor * ckpt.latentMultiple;
  const baseSeed = BigInt(req.seed);
  let current = image;
  const regions: DetailedRegion[] = [];
  for (const [i, box] of boxes.entries()) {
    opts.signal?.throwIfAborted();
    const clamped = { x1: Math.max(0, box.x1), y1: Math.max(0, box.y1), x2: Math.min(image.width, box.x2), y2: Math.min(image.height, box.y2) };
    if (clamped.x2 - clamped.x1 < minSize || clamped.y2 - clamped.y1 < minSize) continue;
    const crop = cropRegion(clamped, cropFactor, image.width, image.height);
    const cw = crop.x2 - crop.x1;
    const ch = crop.y2 - crop.y1;
    const [pw, ph] = processingSize(cw, ch, guide, maxSize, multiple);
    const patch = resizeImage(cropImage(current, crop.x1, crop.y1, cw, ch), pw, ph, 'lanczos');
    const sx = pw / cw, sy = ph / ch;
    const inner = { x1: (clamped.x1 - crop.x1) * sx, y1: (clamped.y1 - crop.y1) * sy, x2: (clamped.x2 - crop.x1) * sx, y2: (clamped.y2 - crop.y1) * sy };
    const seed = (baseSeed + BigInt(i)) % 2n ** 64n;
    const out = await generate(ckpt, {
      steps: 20, cfg: 8, sampler: 'dpmpp_2m', scheduler: 'karras',
      ...req.extra,
      ...(req.steps !== undefined ? { steps: req.steps } : {}),
      ...(req.cfg !== undefined ? { cfg: req.cfg } : {}),
      ...(req.sampler ? { sampler: req.sampler } : {}),
      ...(req.scheduler ? { scheduler: req.scheduler } : {}),
      prompt: req.prompt, negative: req.negative ?? '', seed, denoise,
      init: patch, mask: boxMask(pw, ph, inner, 0), growMaskBy: 0, inpaintMode: 'noise-mask', batch: 1,
    }, opts);
    const back = resizeImage(out.images[0], cw, ch, 'lanczos');
    const feather = req.feather ?? Math.max(2, Math.round(0.05 * Math.min(clamped.x2 - clamped.x1, clamped.y2 - clamped.y1)));
    const localBox = { x1: clamped.x1 - crop.x1, y1: clamped.y1 - crop.y1, x2: clamped.x2 - crop.x1, y2: clamped.y2 - crop.y1 };
    // Feather inside the box so nothing outside it changes.
    const shrunk = { x1: localBox.x1 + feather, y1: localBox.y1 + feather, x2: localBox.x2 - feather, y2: localBox.y2 - feather };
    const mask = shrunk.x2 > shrunk.x1 && shrunk.y2 > shrunk.y1 ? boxMask(cw, ch, shrunk, feather) : boxMask(cw, ch, localBox, 0);
    clipMaskToBox(mask, localBox);
    const pasted = compositeMasked(cropImage(current, crop.x1, crop.y1, cw, ch), back, mask);
    current = pasteImage(current, pasted, crop.x1, crop.y1);
    regions.push({ box: clamped, crop, size: [pw, ph], seed: seed.toString() });
  }
  return { image: current, regions };
}

function clipMaskToBox(m: Mask, box: Box): void {
  for (let y = 0; y < m.height; y++) {
    for (let x = 0; x < m.width; x++) {
      if (x < Math.floor(box.x1) || x >= Math.ceil(box.x2) || y < Math.floor(box.y1) || y >= Math.ceil(box.y2)) m.data[y * m.width + x] = 0;
    }
  }
}

function pasteImage(base: Image, patch: Image, x: number, y: number): Image {
  const c = base.channels;
  const out = { ...base, data: base.data.slice() };
  for (let r = 0; r < patch.height; r++) out.data.set(patch.data.subarray(r * patch.width * 3, (r + 1) * patch.width * 3), ((y + r) * base.width + x) * c);
  return out;
}
