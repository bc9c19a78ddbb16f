// The init image and mask as generate() and generateSdxl() take them: resized (lanczos) to the requested size
// when both width and height are given, then centre-cropped to a multiple of the VAE factor (as VAEEncode
// crops), the mask resized to the image and cropped alike. Without an init image the size must already be a
// multiple of the factor (EmptyLatentImage would silently floor it).
import type { Image } from '../../imaging/image.ts';
import type { Mask } from '../../imaging/masks.ts';
import { resizeImage } from '../../imaging/resize.ts';
import { bilinearResize, cropImage, cropMask, cropOffsets } from './pixels.ts';

export interface InitRequest {
  init?: Image;
  mask?: Mask;
  width?: number;
  height?: number;
}

export interface PreparedInit {
  /** The image size generated (the cropped init's, or the requested one). */
  width: number;
  height: number;
  init?: Image;
  pixelMask?: Mask;
}

export class InitImageError extends Error {
  override name = 'InitImageError';
}

export function prepareInitImage(req: InitRequest, width: number, height: number, factor: number): PreparedInit {
  let init = req.init;
  if (!init) {
    if (width % factor !== 0 || height % factor !== 0) throw new InitImageError(`width and height must be multiples of ${factor}, got ${width}×${height}`);
    return { width, height };
  }
  if (req.width !== undefined && req.height !== undefined && (init.width !== req.width || init.height !== req.height)) init = resizeImage(init, req.width, req.height, 'lanczos');
  const crop = cropOffsets(init.width, init.height, factor);
  if (crop.width === 0 || crop.height === 0) throw new InitImageError(`init image ${init.width}×${init.height} is smaller than the VAE factor ${factor}`);
  let pixelMask: Mask | undefined;
  if (req.mask) {
    const m = req.mask.width === init.width && req.mask.height === init.height ? req.mask : { width: init.width, height: init.height, data: bilinearResize(req.mask.data, req.mask.width, req.mask.height, init.width, init.height) };
    pixelMask = cropMask(m, crop.x, crop.y, crop.width, crop.height);
  }
  init = cropImage(init, crop.x, crop.y, crop.width, crop.height);
  return { width: init.width, height: init.height, init, pixelMask };
}
