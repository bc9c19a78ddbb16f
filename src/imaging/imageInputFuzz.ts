// Hostile image inputs, shared by the seeded fuzz test (npm test) and the broader bench run: random
// mutations of small valid PNG and JPEG files, plus hand-made headers whose declared size lies.
import { deflateSync } from 'node:zlib';
import { createImage, encodePng, type Image } from './image.ts';
import sharp from 'sharp';

/** xorshift32: deterministic, seedable. */
export function fuzzRandom(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}

function sample(w: number, h: number): Image {
  const img = createImage(w, h, 3);
  for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 29 + ((i * i) >> 3)) & 255;
  return img;
}

/** A 24×16 PNG and JPEG to mutate. */
export async function fuzzSeeds(): Promise<{ png: Buffer; jpeg: Buffer }> {
  const img = sample(24, 16);
  const png = await encodePng(img);
  const jpeg = await sharp(img.data, { raw: { width: 24, height: 16, channels: 3 } }).jpeg({ quality: 80 }).toBuffer();
  return { png, jpeg };
}

/** One random mutation: flipped bits, overwritten runs, inserted / deleted bytes, truncation, huge size fields. */
export function mutate(src: Buffer, rand: () => number): Buffer {
  let b = Buffer.from(src);
  const n = 1 + Math.floor(rand() * 4);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(rand() * b.length);
    switch (Math.floor(rand() * 6)) {
      case 0: b[at] ^= 1 << Math.floor(rand() * 8); break;
      case 1: for (let i = 0; i < 1 + rand() * 8 && at + i < b.length; i++) b[at + i] = Math.floor(rand() * 256); break;
      case 2: b = Buffer.concat([b.subarray(0, at), Buffer.from([Math.floor(rand() * 256), 0xff, 0]), b.subarray(at)]); break;
      case 3: b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + Math.floor(rand() * 16)))]); break;
      case 4: b = b.subarray(0, Math.max(1, at)); break;
      default: if (at + 4 <= b.length) b.writeUInt32BE(Math.floor(rand() * 0xffffffff) >>> 0, at); break;
    }
  }
  return b;
}

function chunk(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])), 0);
  return Buffer.concat([head, body, crc]);
}

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) {
    c ^= buf[i];
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * A valid PNG header declaring `width`×`height` (1-bit grey), with `rows` rows of real data (all of them
 * by default: a ~115 KB file that decodes to width×height pixels).
 */
export function lyingPng(width: number, height: number, rows = height): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 1; // bit depth 1
  ihdr[9] = 0; // greyscale
  const stride = 1 + Math.ceil(width / 8);
  const raw = Buffer.alloc(stride * rows);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

/** A baseline JPEG whose SOF0 declares `width`×`height` (the scan data belongs to a 24×16 image). */
export function lyingJpeg(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i + 9 < out.length; ) {
    if (out[i] !== 0xff) break;
    const marker = out[i + 1];
    const len = out.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc3) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
    i += 2 + len;
  }
  throw new Error('no SOF marker');
}
