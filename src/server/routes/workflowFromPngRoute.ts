// POST /inkflow/workflow-from-png (multipart, one file field, as /upload/image): the `prompt` (API format) and
// `workflow` (UI format) a PNG saved by ComfyUI or inkflow carries in its tEXt chunks, read with the same
// parsing as `inkflow run image.png`. Same byte limit as uploads and the same pixel limit read from the
// header; nothing is decoded or stored. Not a PNG, or a PNG carrying neither chunk: 400 with the reason.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { workflowFromPng, WorkflowFileError } from '../../workflow/pngWorkflow.ts';
import type { ServerContext } from '../serverContext.ts';

async function firstFile(req: FastifyRequest, maxBytes: number): Promise<{ filename: string; bytes: Buffer } | undefined> {
  let file: { filename: string; bytes: Buffer } | undefined;
  for await (const part of req.parts({ limits: { fileSize: maxBytes, files: 1, fields: 16, fieldSize: 64 * 1024 } })) {
    if (part.type === 'file') file = { filename: part.filename, bytes: await part.toBuffer() }; // 413 past fileSize
  }
  return file;
}

/** IHDR width × height (bytes 16–23 of a PNG), without decoding. */
function pngPixels(bytes: Buffer): number {
  return bytes.length >= 24 ? bytes.readUInt32BE(16) * bytes.readUInt32BE(20) : 0;
}

async function workflowFromPngUpload(ctx: ServerContext, req: FastifyRequest, reply: FastifyReply) {
  const refuse = (status: number, message: string) => reply.code(status).type('text/plain').send(message);
  try {
    if (!req.isMultipart()) return refuse(400, 'expected multipart/form-data with the PNG as a file field (e.g. "image")');
    const file = await firstFile(req, ctx.limits.maxUploadBytes);
    if (!file) return refuse(400, 'no file in the form');
    const what = JSON.stringify(file.filename || 'the upload');
    const found = workflowFromPng(file.bytes, what);
    const pixels = pngPixels(file.bytes);
    if (pixels > ctx.limits.maxImagePixels) return refuse(413, `image has ${pixels} pixels, above the limit of ${ctx.limits.maxImagePixels}`);
    return { prompt: found.prompt ?? null, workflow: found.extraPngInfo.workflow ?? null };
  } catch (e) {
    if (e instanceof WorkflowFileError) return refuse(400, e.message);
    if ((e as { statusCode?: number }).statusCode === 413) return refuse(413, `upload is larger than ${ctx.limits.maxUploadBytes} bytes`);
    throw e;
  }
}

export function workflowFromPngRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/inkflow/workflow-from-png', (req, reply) => workflowFromPngUpload(ctx, req, reply));
}
