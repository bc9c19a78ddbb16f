// LoadImage and LoadImageMask: a file from the input folder (or `name [output]` / `[temp]`) as ComfyUI
// reads it — IMAGE is RGB/255, LoadImage's MASK is 1 − alpha (a 64×64 zero mask when the file has no
// alpha, as ComfyUI returns). Bytes and pixel count are checked before decoding.
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { readFileLimited } from '../../files/readLimited.ts';
import { decodeImage } from '../../imaging/image.ts';
import type { WorkflowEnv } from '../api.ts';
import { annotatedExists, listInputImages, resolveAnnotated } from '../folders.ts';
import type { NodeDef } from '../nodeSpec.ts';
import { imageBatch, maskBatch, type ImageBatch, type MaskBatch } from '../values.ts';

export class ImageLimitError extends Error {
  override name = 'ImageLimitError';
}

interface Decoded {
  width: number;
  height: number;
  rgba: Uint8Array;
  hasAlpha: boolean;
}

/** Reads and decodes an input image within the environment's byte and pixel limits. */
export async function readInputImage(env: WorkflowEnv, name: string): Promise<Decoded> {
  const path = resolveAnnotated(env, name);
  const bytes = readFileLimited(path, env.limits.maxInputBytes);
  // The header is read first, so a decompression bomb is refused before any pixel is decoded.
  let meta;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw new ImageLimitError(`${name}: cannot decode image (${(e as Error).message})`);
  }
  const pixels = (meta.width ?? 0) * (meta.height ?? 0);
  if (pixels > env.limits.maxImagePixels) throw new ImageLimitError(`${name}: ${meta.width}×${meta.height} is more than the limit of ${env.limits.maxImagePixels} pixels`);
  const img = await decodeImage(bytes, 4, name);
  return { width: img.width, height: img.height, rgba: img.data, hasAlpha: meta.hasAlpha === true };
}

function fileHash(env: WorkflowEnv, name: string): string | undefined {
  try {
    return createHash('sha256').update(readFileLimited(resolveAnnotated(env, name), env.limits.maxInputBytes)).digest('hex');
  } catch {
    return undefined;
  }
}

const imageExists = {
  inputs: ['image'],
  check: (v: Record<string, unknown>, env: WorkflowEnv) => (typeof v.image === 'string' && annotatedExists(env, v.image) ? true as const : `Invalid image file: ${String(v.image)}`),
};

export const LoadImage: NodeDef = {
  name: 'LoadImage',
  displayName: 'Load Image',
  category: 'image',
  required: { image: { type: 'COMBO', options: listInputImages, extra: { image_upload: true } } },
  outputs: [{ type: 'IMAGE' }, { type: 'MASK' }],
  validateInputs: imageExists,
  isChanged: (v, env) => fileHash(env, String(v.image)),
  async run(v, ctx) {
    const d = await readInputImage(ctx.env, String(v.image));
    const n = d.width * d.height;
    const image: ImageBatch = imageBatch(1, d.height, d.width, 3);
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) image.data[i * 3 + c] = Math.fround(d.rgba[i * 4 + c] / 255);
    let mask: MaskBatch;
    if (d.hasAlpha) {
      mask = maskBatch(1, d.height, d.width);
      for (let i = 0; i < n; i++) mask.data[i] = Math.fround(1 - Math.fround(d.rgba[i * 4 + 3] / 255));
    } else mask = maskBatch(1, 64, 64);
    return { outputs: [image, mask] };
  },
};

const CHANNELS = ['alpha', 'red', 'green', 'blue'] as const;

export const LoadImageMask: NodeDef = {
  name: 'LoadImageMask',
  displayName: 'Load Image (as Mask)',
  category: 'mask',
  required: {
    image: { type: 'COMBO', options: listInputImages, extra: { image_upload: true } },
    channel: { type: 'COMBO', options: CHANNELS },
  },
  outputs: [{ type: 'MASK' }],
  validateInputs: imageExists,
  isChanged: (v, env) => fileHash(env, String(v.image)),
  async run(v, ctx) {
    const d = await readInputImage(ctx.env, String(v.image));
    const k = { red: 0, green: 1, blue: 2, alpha: 3 }[String(v.channel) as (typeof CHANNELS)[number]];
    const mask = maskBatch(1, d.height, d.width);
    for (let i = 0; i < d.width * d.height; i++) {
      const x = Math.fround(d.rgba[i * 4 + k] / 255);
      mask.data[i] = k === 3 ? Math.fround(1 - x) : x;
    }
    return { outputs: [mask] };
  },
};
