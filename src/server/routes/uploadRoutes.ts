// POST /upload/image and /upload/mask (multipart: image, overwrite, type, subfolder, original_ref).
// Names and subfolders stay inside input/, temp/ or output/; the upload is bounded in bytes (multipart
// limit) and in pixels, read from the image header before anything is decoded, so a decompression bomb
// costs a few bytes of parsing. A new name never clobbers a different file: like ComfyUI, identical bytes
// reuse the name and different bytes get "name (1).png".
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, extname, basename } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import sharp from 'sharp';
import { resolveInside, UnsafePathError } from '../../files/safePath.ts';
import { writeFileAtomic } from '../../files/atomicWrite.ts';
import { readFileLimited } from '../../files/readLimited.ts';
import { folderForType } from '../dataFolder.ts';
import type { ServerContext } from '../serverContext.ts';

interface UploadForm {
  image?: { filename: string; bytes: Buffer };
  fields: Record<string, string>;
}

class UploadRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readForm(req: FastifyRequest, maxBytes: number): Promise<UploadForm> {
  const form: UploadForm = { fields: {} };
  // preservePath: busboy would otherwise strip "../" from a file name silently; ComfyUI refuses such names.
  for await (const part of req.parts({ preservePath: true, limits: { fileSize: maxBytes, files: 1, fields: 16, fieldSize: 64 * 1024 } })) {
    if (part.type === 'file') {
      const bytes = await part.toBuffer(); // throws RequestFileTooLargeError (413) past fileSize
      if (part.fieldname === 'image') form.image = { filename: part.filename, bytes };
    } else {
      form.fields[part.fieldname] = String(part.value);
    }
  }
  return form;
}

/** Width × height from the header only; refuses non-images and images above the pixel limit. */
async function checkImageHeader(bytes: Buffer, maxPixels: number): Promise<{ width: number; height: number }> {
  let meta: { width?: number; height?: number };
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw new UploadRefused(400, 'not an image sharp can read');
  }
  const { width, height } = meta;
  if (!width || !height) throw new UploadRefused(400, 'image has no size');
  if (width * height > maxPixels) {
    throw new UploadRefused(413, `image is ${width}×${height} = ${width * height} pixels, above the limit of ${maxPixels}`);
  }
  return { width, height };
}

/** The name to store under: the requested one, or the first free "name (i).ext" unless the bytes are the same. */
function chooseName(dir: string, filename: string, bytes: Buffer, overwrite: boolean): string {
  if (overwrite) return filename;
  const ext = extname(filename);
  const stem = filename.slice(0, filename.length - ext.length);
  for (let i = 0; ; i++) {
    const name = i === 0 ? filename : `${stem} (${i})${ext}`;
    const path = resolveInside(dir, name);
    if (!existsSync(path)) return name;
    if (readFileSync(path).equals(bytes)) return name;
  }
}

function resolveTarget(ctx: ServerContext, fields: Record<string, string>): { folder: string; dir: string; subfolder: string; type: string } {
  const type = fields.type || 'input';
  const folder = folderForType(ctx.data, type);
  if (!folder) throw new UploadRefused(400, `unknown type ${type}`);
  const subfolder = fields.subfolder ?? '';
  const dir = subfolder ? resolveInside(folder, subfolder) : folder;
  return { folder, dir, subfolder, type };
}

function checkFileName(filename: string): void {
  if (!filename || filename.includes('/') || filename.includes('\\') || filename.includes('..') || filename.includes('\0')) {
    throw new UploadRefused(400, `file name ${JSON.stringify(filename)} must be a plain name`);
  }
}

async function maskedOriginal(ctx: ServerContext, originalRef: string, mask: Buffer): Promise<Buffer> {
  let ref: { filename?: string; subfolder?: string; type?: string };
  try {
    ref = JSON.parse(originalRef);
  } catch {
    throw new UploadRefused(400, 'original_ref is not JSON');
  }
  if (typeof ref.filename !== 'string') throw new UploadRefused(400, 'original_ref has no filename');
  checkFileName(ref.filename);
  const folder = folderForType(ctx.data, ref.type ?? 'input');
  if (!folder) throw new UploadRefused(400, 'original_ref has an unknown type');
  const path = resolveInside(folder, ref.subfolder ? `${ref.subfolder}/${ref.filename}` : ref.filename);
  if (!existsSync(path)) throw new UploadRefused(404, `original ${ref.filename} not found`);
  const original = readFileLimited(path, ctx.limits.maxUploadBytes);
  const { width, height } = await checkImageHeader(original, ctx.limits.maxImagePixels);
  // ComfyUI puts the mask's alpha into the original image as its alpha channel.
  const alpha = await sharp(mask).ensureAlpha().extractChannel(3).resize(width, height).raw().toBuffer();
  return sharp(original).removeAlpha().joinChannel(alpha, { raw: { width, height, channels: 1 } }).png().toBuffer();
}

async function handleUpload(ctx: ServerContext, req: FastifyRequest, reply: FastifyReply, isMask: boolean) {
  try {
    if (!req.isMultipart()) throw new UploadRefused(400, 'expected multipart/form-data');
    const form = await readForm(req, ctx.limits.maxUploadBytes);
    if (!form.image) throw new UploadRefused(400, 'no image field');
    const filename = form.image.filename;
    checkFileName(filename);
    await checkImageHeader(form.image.bytes, ctx.limits.maxImagePixels);
    const target = resolveTarget(ctx, form.fields);
    let bytes = form.image.bytes;
    if (isMask) {
      if (!form.fields.original_ref) throw new UploadRefused(400, 'no original_ref field');
      bytes = await maskedOriginal(ctx, form.fields.original_ref, bytes);
    }
    const overwrite = form.fields.overwrite === 'true' || form.fields.overwrite === '1';
    mkdirSync(target.dir, { recursive: true });
    const name = chooseName(target.dir, basename(filename), bytes, overwrite);
    const path = resolveInside(target.dir, name);
    mkdirSync(dirname(path), { recursive: true });
    if (overwrite || !existsSync(path)) writeFileAtomic(path, bytes, { overwrite });
    return { name, subfolder: target.subfolder, type: target.type };
  } catch (e) {
    if (e instanceof UploadRefused) return reply.code(e.status).type('text/plain').send(e.message);
    if (e instanceof UnsafePathError) return reply.code(400).type('text/plain').send(e.message);
    const status = (e as { statusCode?: number }).statusCode;
    if (status === 413) return reply.code(413).type('text/plain').send(`upload is larger than ${ctx.limits.maxUploadBytes} bytes`);
    throw e;
  }
}

export function uploadRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/upload/image', (req, reply) => handleUpload(ctx, req, reply, false));
  app.post('/upload/mask', (req, reply) => handleUpload(ctx, req, reply, true));
}
