// GET /view?filename&subfolder&type&preview&channel: a file from input/, output/ or temp/, never from
// anywhere else. Status codes follow ComfyUI: a bad file name or type is 400, a subfolder that leaves
// the folder is 403, a missing file 404.
import { createReadStream, statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import sharp from 'sharp';
import { resolveInside, UnsafePathError } from '../../files/safePath.ts';
import { readFileLimited } from '../../files/readLimited.ts';
import { folderForType } from '../dataFolder.ts';
import type { ServerContext } from '../serverContext.ts';

const CONTENT_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.json': 'application/json',
  '.txt': 'text/plain',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
};

function emptyStatus(reply: FastifyReply, code: number) {
  return reply.code(code).type('application/octet-stream').send('');
}

function disposition(name: string): string {
  return `filename="${name.replace(/["\\\r\n]/g, '_')}"`;
}

export function viewRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/view', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    if (q.filename === undefined) return emptyStatus(reply, 404);
    const filename = q.filename;
    if (!filename || filename.startsWith('/') || filename.includes('..') || filename.includes('\0')) return emptyStatus(reply, 400);
    const folder = folderForType(ctx.data, q.type ?? 'output');
    if (!folder) return emptyStatus(reply, 400);
    const subfolder = q.subfolder ?? '';
    let dir = folder;
    if (subfolder) {
      try {
        dir = resolveInside(folder, subfolder);
      } catch (e) {
        if (e instanceof UnsafePathError) return emptyStatus(reply, 403);
        throw e;
      }
    }
    let path: string;
    try {
      path = resolveInside(dir, filename);
      resolveInside(folder, `${subfolder ? `${subfolder}/` : ''}${filename}`); // the whole name stays in the type's folder
    } catch (e) {
      if (e instanceof UnsafePathError) return emptyStatus(reply, 403);
      throw e;
    }
    let st;
    try {
      st = statSync(path);
    } catch {
      return emptyStatus(reply, 404);
    }
    if (!st.isFile()) return emptyStatus(reply, 404);
    const name = basename(filename);

    const preview = q.preview; // "webp;90" or "jpeg;80": a smaller copy for thumbnails
    const channel = q.channel;
    if (preview || (channel && channel !== 'rgba')) {
      let img = sharp(readFileLimited(path, ctx.limits.maxUploadBytes * 4), { limitInputPixels: ctx.limits.maxImagePixels });
      if (channel === 'rgb') img = img.removeAlpha();
      else if (channel === 'a') img = img.ensureAlpha().extractChannel(3);
      let type = 'image/png';
      if (preview) {
        const [fmt, qual] = preview.split(';');
        const quality = Math.min(100, Math.max(1, Number(qual) || 90));
        if (fmt === 'webp') {
          img = img.webp({ quality });
          type = 'image/webp';
        } else if (fmt === 'jpeg' || fmt === 'jpg') {
          img = img.jpeg({ quality });
          type = 'image/jpeg';
        } else img = img.png();
      } else img = img.png();
      const out = await img.toBuffer();
      return reply.type(type).header('content-disposition', disposition(name)).send(out);
    }
    return reply
      .type(CONTENT_TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream')
      .header('content-disposition', disposition(name))
      .header('content-length', st.size)
      .header('last-modified', st.mtime.toUTCString())
      .send(createReadStream(path));
  });
}
