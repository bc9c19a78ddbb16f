// One page as a PNG at print resolution (dpi), with the dpi and the workflows that made its pictures
// written into the file.
import type { Comic, Page } from '../../project/schema.ts';
import { asciiJson, insertChunks, physChunk, textChunk } from '../../render/png.ts';
import { canvasPng, imagesFor, pageWorkflows, renderPageCanvas } from './renderPage.tsx';

export async function exportPagePng(comic: Comic, page: Page, dpi: number): Promise<Uint8Array> {
  const images = await imagesFor(comic, [page]);
  const canvas = renderPageCanvas(page, images, dpi / 25.4);
  const png = await canvasPng(canvas);
  const workflows = pageWorkflows(page);
  const chunks = [physChunk(dpi), textChunk('Software', 'inkflow studio')];
  // ComfyUI reads `prompt`: the first generated picture's workflow; every panel's goes in `inkflow`.
  if (workflows[0]) chunks.push(textChunk('prompt', asciiJson(workflows[0])));
  chunks.push(textChunk('inkflow', asciiJson({ comic: comic.title, page: comic.pages.indexOf(page) + 1, dpi, workflows })));
  return insertChunks(png, chunks);
}
