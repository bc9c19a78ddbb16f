// The image type shared by every layer above imaging: 8-bit, interleaved (HWC), 1, 3 or 4 channels.
// Decoding and encoding go through sharp; bad input (not an image, truncated, lying header) becomes
// an ImageError naming the file, never a crash.
import sharp from 'sharp';
import { assertPixelLimit, ImageLimitError, imageLimits, readImageBytes, type ImageLimits } from './limits.ts';

export interface Image {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3 | 4;
  /** Row-major HWC bytes, length = width * height * channels. */
  readonly data: Uint8Array;
}

export class ImageError extends Error {
  override name = 'ImageError';
}

/** Largest side we accept when decoding, so a lying header cannot make us allocate gigabytes. */
export const MAX_IMAGE_SIDE = 16384;

export function createImage(width: number, height: number, channels: 1 | 3 | 4, fill = 0): Image {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new ImageError(`invalid image size ${width}×${height}`);
  }
  return { width, height, channels, data: new Uint8Array(width * height * channels).fill(fill) };
}

/**
 * Decodes PNG/JPEG/WebP/… bytes (or a file path, read with the byte limit) to an Image with the requested
 * channel count. The header's size is checked against the pixel limit before anything is decoded.
 */
export async function decodeImage(input: Buffer | Uint8Array | string, channels: 1 | 3 | 4 = 3, label = typeof input === 'string' ? input : 'image', limits: ImageLimits = imageLimits()): Promise<Image> {
  const bytes = typeof input === 'string' ? readImageBytes(input, limits) : input;
  if (bytes.byteLength > limits.maxBytes) throw new ImageLimitError(`${label}: ${bytes.byteLength} bytes, over the input limit of ${limits.maxBytes} bytes (INKFLOW_MAX_INPUT_BYTES raises it)`);
  try {
    const maxPixels = Math.min(limits.maxPixels, MAX_IMAGE_SIDE * MAX_IMAGE_SIDE);
    // Header only (no pixel limit here, so the message can give the declared size), then the decode.
    const meta = await sharp(bytes, { limitInputPixels: false, failOn: 'error' }).metadata();
    if (!meta.width || !meta.height) throw new ImageError(`${label}: image has no size`);
    assertPixelLimit(label, meta.width, meta.height, limits);
    let pipeline = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error', sequentialRead: true });
    if (channels === 1) pipeline = pipeline.greyscale();
    else if (channels === 3) pipeline = pipeline.removeAlpha().toColourspace('srgb');
    else pipeline = pipeline.ensureAlpha().toColourspace('srgb');
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== channels) {
      // sharp keeps a grey image grey; expand to the requested channel count ourselves.
      return convertChannels({ width: info.width, height: info.height, channels: info.channels as 1 | 3 | 4, data: new Uint8Array(data) }, channels);
    }
    return { width: info.width, height: info.height, channels, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (err) {
    if (err instanceof ImageError || err instanceof ImageLimitError) throw err;
    const msg = (err as Error).message;
    if (/pixel limit/i.test(msg)) throw new ImageLimitError(`${label}: image is over the limit of ${maxPixelsText(limits)} pixels (INKFLOW_MAX_IMAGE_PIXELS raises it)`);
    throw new ImageError(`${label}: cannot decode image (${msg})`);
  }
}

const maxPixelsText = (l: ImageLimits) => Math.min(l.maxPixels, MAX_IMAGE_SIDE * MAX_IMAGE_SIDE).toLocaleString('en-US');

/** Converts between grey, RGB and RGBA (grey = BT.601 luma; added alpha is opaque). */
export function convertChannels(img: Image, channels: 1 | 3 | 4): Image {
  if (img.channels === channels) return img;
  const out = createImage(img.width, img.height, channels);
  const n = img.width * img.height;
  const src = img.data;
  const dst = out.data;
  for (let i = 0; i < n; i++) {
    let r: number, g: number, b: number, a = 255;
    if (img.channels === 1) {
      r = g = b = src[i];
    } else {
      r = src[i * img.channels];
      g = src[i * img.channels + 1];
      b = src[i * img.channels + 2];
      if (img.channels === 4) a = src[i * 4 + 3];
    }
    if (channels === 1) dst[i] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    else {
      dst[i * channels] = r;
      dst[i * channels + 1] = g;
      dst[i * channels + 2] = b;
      if (channels === 4) dst[i * 4 + 3] = a;
    }
  }
  return out;
}

export interface PngText {
  [keyword: string]: string;
}

/** Encodes an Image as PNG; optional tEXt chunks (e.g. ComfyUI's `prompt`) are written into the file. */
export async function encodePng(img: Image, text?: PngText): Promise<Buffer> {
  const png = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } })
    .png({ compressionLevel: 6 })
    .withMetadata({})
    .toBuffer();
  return text && Object.keys(text).length ? insertPngText(png, text) : png;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Inserts tEXt chunks right after IHDR (latin-1 keyword, UTF-8 text as ComfyUI writes it). */
export function insertPngText(png: Buffer, text: PngText): Buffer {
  if (!png.subarray(0, 8).equals(PNG_SIGNATURE)) throw new ImageError('not a PNG');
  const ihdrEnd = 8 + 8 + png.readUInt32BE(8) + 4;
  const chunks = Object.entries(text).map(([k, v]) => pngChunk('tEXt', Buffer.concat([Buffer.from(k, 'latin1'), Buffer.from([0]), Buffer.from(v, 'utf8')])));
  return Buffer.concat([png.subarray(0, ihdrEnd), ...chunks, png.subarray(ihdrEnd)]);
}

/** Reads all tEXt chunks of a PNG (and iTXt without compression). Returns {} for non-PNG input. */
export function readPngText(png: Buffer): PngText {
  const out: PngText = {};
  if (png.length < 8 || !png.subarray(0, 8).equals(PNG_SIGNATURE)) return out;
  let off = 8;
  while (off + 12 <= png.length) {
    const len = png.readUInt32BE(off);
    const type = png.toString('latin1', off + 4, off + 8);
    const end = off + 8 + len;
    if (end + 4 > png.length) break;
    const body = png.subarray(off + 8, end);
    if (type === 'tEXt') {
      const z = body.indexOf(0);
      if (z > 0) out[body.toString('latin1', 0, z)] = body.toString('utf8', z + 1);
    } else if (type === 'iTXt') {
      const z = body.indexOf(0);
      if (z > 0 && body[z + 1] === 0) {
        const langEnd = body.indexOf(0, z + 3);
        const tkEnd = langEnd >= 0 ? body.indexOf(0, langEnd + 1) : -1;
        if (tkEnd >= 0) out[body.toString('latin1', 0, z)] = body.toString('utf8', tkEnd + 1);
      }
    }
    if (type === 'IEND') break;
    off = end + 4;
  }
  return out;
}

function pngChunk(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])) >>> 0, 0);
  return Buffer.concat([head, body, crc]);
}

let crcTable: Uint32Array | undefined;
function crc32(buf: Buffer): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = crcTable[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Throws an ImageError unless `img` is a non-empty image whose buffer matches its header. */
export function assertImage(img: Image, what: string): void {
  if (!img || !Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width <= 0 || img.height <= 0) {
    throw new ImageError(`${what}: image must have a positive integer size, got ${img?.width}×${img?.height}`);
  }
  if (img.channels !== 1 && img.channels !== 3 && img.channels !== 4) {
    throw new ImageError(`${what}: image must have 1, 3 or 4 channels, got ${img.channels}`);
  }
  if (!img.data || img.data.length !== img.width * img.height * img.channels) {
    throw new ImageError(`${what}: image data has ${img.data?.length} bytes, expected ${img.width}×${img.height}×${img.channels}`);
  }
}
