// Limits on what one input image may cost, shared by the CLI and the server: bytes read from disk or
// an upload (a FIFO or /dev/zero would otherwise grow without end) and pixels decoded (a 115 KB 1-bit
// PNG can declare 16384² pixels; decoded to RGBA that is 1 GB, with sharp's working copies 4 GB).
// The pixel count is read from the header before anything is decoded.
import { defaultInputByteLimit, InputTooLargeError, readFileLimited } from '../files/readLimited.ts';

export interface ImageLimits {
  /** Bytes of one encoded input image. */
  maxBytes: number;
  /** width × height of one decoded image. */
  maxPixels: number;
}

/** Default: 8192² = 67 MP; a 16384² image needs INKFLOW_MAX_IMAGE_PIXELS=268435456. */
const DEFAULT_MAX_PIXELS = 8192 * 8192;

function positiveEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new ImageLimitError(`${name}=${raw} is not a positive integer`);
  return n;
}

/** The limits in force: INKFLOW_MAX_INPUT_BYTES (default 256 MB) and INKFLOW_MAX_IMAGE_PIXELS (default 8192²). */
export function imageLimits(overrides: Partial<ImageLimits> = {}): ImageLimits {
  return {
    maxBytes: overrides.maxBytes ?? defaultInputByteLimit(),
    maxPixels: overrides.maxPixels ?? positiveEnv('INKFLOW_MAX_IMAGE_PIXELS') ?? DEFAULT_MAX_PIXELS,
  };
}

export class ImageLimitError extends Error {
  override name = 'ImageLimitError';
}

/** Throws unless a width × height declared by a header fits the pixel limit. */
export function assertPixelLimit(label: string, width: number, height: number, limits: ImageLimits): void {
  if (width * height > limits.maxPixels) {
    throw new ImageLimitError(`${label}: image of ${width}×${height} = ${(width * height).toLocaleString('en-US')} pixels is over the limit of ${limits.maxPixels.toLocaleString('en-US')} pixels (scale it down, or raise INKFLOW_MAX_IMAGE_PIXELS)`);
  }
}

/** Reads an input image file with the byte limit (folders, devices and FIFOs included). */
export function readImageBytes(path: string, limits: ImageLimits = imageLimits()): Buffer {
  try {
    return readFileLimited(path, limits.maxBytes);
  } catch (e) {
    if (e instanceof InputTooLargeError) throw new ImageLimitError(`${path}: more than ${limits.maxBytes.toLocaleString('en-US')} bytes, over the input limit (is it really an image? INKFLOW_MAX_INPUT_BYTES raises the limit)`);
    const code = (e as NodeJS.ErrnoException).code;
    throw new ImageLimitError(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : code ?? (e as Error).message}`);
  }
}
