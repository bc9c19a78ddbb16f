// Every page stacked into one long PNG of a fixed width, as webtoon platforms take it. Pages are drawn
// one at a time and streamed into the PNG encoder, so the strip can be taller than any canvas.
import type { Comic } from '../../project/schema.ts';
import { asciiJson, encodePngFromBands, textChunk } from '../../render/png.ts';
import { imagesFor, pageWorkflows, renderPageCanvas } from './renderPage.tsx';

/** Rows per band: keeps each canvas small enough to draw at any width. */
const BAND_ROWS = 2048;

export async function exportWebtoonPng(comic: Comic, width: number): Promise<Uint8Array> {
  if (comic.pages.length === 0) throw new Error('the comic has no pages yet');
  const images = await imagesFor(comic, comic.pages);
  const heights = comic.pages.map((p) => Math.round((p.size.height * width) / p.size.width));
  const total = heights.reduce((s, h) => s + h, 0);
  async function* bands() {
    for (const page of comic.pages) {
      const pxPerMm = width / page.size.width;
      // Draw the page in horizontal slices by rendering it shifted up; each slice is one band.
      const h = Math.round(page.size.height * pxPerMm);
      for (let top = 0; top < h; top += BAND_ROWS) {
        const rows = Math.min(BAND_ROWS, h - top);
        const slice = { ...page, size: { ...page.size, height: rows / pxPerMm } };
        const shifted = {
          ...slice,
          panels: page.panels.map((p) => ({ ...p, y: p.y - top / pxPerMm })),
          bubbles: page.bubbles.map((b) => ({ ...b, y: b.y - top / pxPerMm, tail: b.tail && { x: b.tail.x, y: b.tail.y - top / pxPerMm } })),
        };
        const canvas = renderPageCanvas(shifted, images, pxPerMm);
        const ctx = canvas.getContext('2d')!;
        const data = ctx.getImageData(0, 0, width, rows).data;
        yield data.subarray(0, width * rows * 4);
      }
    }
  }
  return encodePngFromBands(width, total, bands(), [
    textChunk('Software', 'inkflow studio'),
    textChunk('inkflow', asciiJson({ comic: comic.title, webtoonWidth: width, workflows: comic.pages.flatMap(pageWorkflows) })),
  ]);
}
