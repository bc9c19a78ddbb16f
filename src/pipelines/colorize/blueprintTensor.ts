// The blueprint as the SDRO UNet receives it, following the original pipeline's control image processor
// (diffusers VaeImageProcessor with do_normalize=False, do_convert_rgb=True): RGB, size floored to a multiple
// of the VAE factor, PIL Lanczos resize only when that changed the size, then x/255 in [0,1] (NOT [−1,1]), NCHW.
import { assertImage, convertChannels, ImageError, type Image } from '../../imaging/image.ts';
import { pillowResize } from '../../imaging/pillowResize.ts';

export interface BlueprintTensor {
  /** [1, 3, height, width] float32 in [0,1]. */
  readonly data: Float32Array;
  readonly shape: readonly [1, 3, number, number];
  readonly width: number;
  readonly height: number;
}

/** The size the pipeline works at: each side floored to a multiple of `factor`; throws when a side would be 0. */
export function workingSize(width: number, height: number, factor: number): { width: number; height: number } {
  const w = width - (width % factor);
  const h = height - (height % factor);
  if (w < factor || h < factor) {
    throw new ImageError(`blueprint is ${width}×${height} px: each side must be at least ${factor} px (the output size is the blueprint size floored to a multiple of ${factor})`);
  }
  return { width: w, height: h };
}

/** Blueprint image (white lines on black) → the UNet's conditioning tensor. */
export function blueprintToTensor(blueprint: Image, factor = 8): BlueprintTensor {
  assertImage(blueprint, 'blueprint');
  const { width, height } = workingSize(blueprint.width, blueprint.height, factor);
  // PIL convert("RGB") drops alpha without compositing; convertChannels does the same.
  let rgb = convertChannels(blueprint, 3);
  if (rgb.width !== width || rgb.height !== height) rgb = pillowResize(rgb, width, height, 'lanczos');
  const plane = width * height;
  const data = new Float32Array(3 * plane);
  const src = rgb.data;
  // float32(v)/255 in float32: v/255 in double then rounded once is the same value (53 ≥ 2·24+2 bits).
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) data[c * plane + i] = src[i * 3 + c] / 255;
  }
  return { data, shape: [1, 3, height, width], width, height };
}
