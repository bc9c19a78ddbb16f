// transformers' CLIPImageProcessor (4.27 semantics) on our Image type: convert to RGB, resize the shortest
// edge with Pillow's resampling on uint8, center crop (offset (size - crop) // 2, zero padding when the crop
// is larger), rescale (×1/255) and normalise with mean/std in float32 as numpy does, → NCHW float32.
import { z } from 'zod';
import { type Image, ImageError, assertImage, convertChannels } from '../../imaging/image.ts';
import { PIL_FILTERS, type PilFilter, pilResize } from './pilResize.ts';
import { ClipConfigError } from './config.ts';
import { readTextLimited } from '../../files/readText.ts';

const sizeSchema = z.union([
  z.number().int().positive(),
  z.object({ shortest_edge: z.number().int().positive() }),
  z.object({ height: z.number().int().positive(), width: z.number().int().positive() }),
]);

const schema = z.object({
  do_convert_rgb: z.boolean().default(true),
  do_resize: z.boolean().default(true),
  size: sizeSchema.default({ shortest_edge: 224 }),
  resample: z.number().int().default(3),
  do_center_crop: z.boolean().default(true),
  crop_size: sizeSchema.default({ height: 224, width: 224 }),
  do_rescale: z.boolean().default(true),
  rescale_factor: z.number().default(1 / 255),
  do_normalize: z.boolean().default(true),
  image_mean: z.array(z.number()).length(3).default([0.48145466, 0.4578275, 0.40821073]),
  image_std: z.array(z.number()).length(3).default([0.26862954, 0.26130258, 0.27577711]),
});

export interface ClipImageProcessorConfig {
  convertRgb: boolean;
  /** Shortest edge → this (aspect kept), or an exact size. */
  resize?: { shortestEdge: number } | { height: number; width: number };
  filter: PilFilter;
  crop?: { height: number; width: number };
  rescale?: number;
  normalize?: { mean: readonly number[]; std: readonly number[] };
}

export function parseClipImageProcessorConfig(raw: unknown, source = 'preprocessor_config.json'): ClipImageProcessorConfig {
  const res = schema.safeParse(raw);
  if (!res.success) {
    const issues = res.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ClipConfigError(`${source}: invalid CLIPImageProcessor config: ${issues}`);
  }
  const c = res.data;
  const filter = PIL_FILTERS[c.resample as keyof typeof PIL_FILTERS];
  if (!filter) throw new ClipConfigError(`${source}: resample ${c.resample} is not supported (use 1 lanczos, 2 bilinear, 3 bicubic, 4 box or 5 hamming)`);
  const resize = typeof c.size === 'number' ? { shortestEdge: c.size } : 'shortest_edge' in c.size ? { shortestEdge: c.size.shortest_edge } : { height: c.size.height, width: c.size.width };
  const crop = typeof c.crop_size === 'number' ? { height: c.crop_size, width: c.crop_size } : 'height' in c.crop_size ? c.crop_size : { height: c.crop_size.shortest_edge, width: c.crop_size.shortest_edge };
  return {
    convertRgb: c.do_convert_rgb,
    resize: c.do_resize ? resize : undefined,
    filter,
    crop: c.do_center_crop ? crop : undefined,
    rescale: c.do_rescale ? c.rescale_factor : undefined,
    normalize: c.do_normalize ? { mean: c.image_mean, std: c.image_std } : undefined,
  };
}

export function readClipImageProcessorConfig(path: string): ClipImageProcessorConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readTextLimited(path));
  } catch (err) {
    throw new ClipConfigError(`${path}: cannot read preprocessor config (${(err as Error).message})`);
  }
  return parseClipImageProcessorConfig(raw, path);
}

/** transformers' get_resize_output_image_size(default_to_square=False): short side → size, long side truncated. */
export function shortestEdgeSize(width: number, height: number, size: number): { width: number; height: number } {
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  if (short === size) return { width, height };
  const newLong = Math.trunc((size * long) / short);
  return width <= height ? { width: size, height: newLong } : { width: newLong, height: size };
}

export interface PixelValues {
  readonly shape: [number, number, number, number];
  readonly data: Float32Array;
}

/** Returns the processor: one image or a batch → pixel_values [B, 3, H, W]. */
export function clipImageProcessor(cfg: ClipImageProcessorConfig): (images: Image | readonly Image[]) => PixelValues {
  const prepare = (input: Image): Image => {
    assertImage(input, 'CLIP image processor');
    let img = cfg.convertRgb ? convertChannels(input, 3) : input;
    if (img.channels !== 3) throw new ImageError(`CLIP image processor: needs an RGB image, got ${img.channels} channels (enable do_convert_rgb)`);
    if (cfg.resize) {
      const size = 'shortestEdge' in cfg.resize ? shortestEdgeSize(img.width, img.height, cfg.resize.shortestEdge) : cfg.resize;
      if (size.width !== img.width || size.height !== img.height) img = pilResize(img, size.width, size.height, cfg.filter);
    }
    return img;
  };
  return (images) => {
    const list = Array.isArray(images) ? (images as readonly Image[]) : [images as Image];
    if (list.length === 0) throw new ImageError('CLIP image processor: no images');
    const prepared = list.map(prepare);
    const h = cfg.crop?.height ?? prepared[0].height;
    const w = cfg.crop?.width ?? prepared[0].width;
    const out = new Float32Array(list.length * 3 * h * w);
    const f = Math.fround;
    const mean = cfg.normalize?.mean.map(f);
    const std = cfg.normalize?.std.map(f);
    prepared.forEach((img, b) => {
      // numpy floor division: negative offsets (crop larger than the image) pad with zeros.
      const top = cfg.crop ? Math.floor((img.height - h) / 2) : 0;
      const left = cfg.crop ? Math.floor((img.width - w) / 2) : 0;
      if (!cfg.crop && (img.height !== h || img.width !== w)) throw new ImageError(`CLIP image processor: batch images differ in size (${img.width}×${img.height} vs ${w}×${h}); enable center crop`);
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            const sy = y + top;
            const sx = x + left;
            const u8 = sy >= 0 && sy < img.height && sx >= 0 && sx < img.width ? img.data[(sy * img.width + sx) * 3 + c] : 0;
            // uint8 × python float is float64, cast to float32; normalising then runs in float32.
            let v = cfg.rescale !== undefined ? f(u8 * cfg.rescale) : u8;
            if (mean && std) v = f(f(v - mean[c]) / std[c]);
            out[((b * 3 + c) * h + y) * w + x] = v;
          }
        }
      }
    });
    return { shape: [list.length, 3, h, w], data: out };
  };
}

/** One image → pixel_values [1, 3, H, W]. */
export function preprocessClipImage(image: Image, cfg: ClipImageProcessorConfig): PixelValues {
  return clipImageProcessor(cfg)(image);
}
