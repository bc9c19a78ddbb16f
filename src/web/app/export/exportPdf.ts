// The whole comic as a PDF: each page's artwork is a 300 dpi picture, and the bubble text is drawn over
// it as real PDF text in the PDF reader's built-in fonts (Helvetica, Times, Courier — the metrics of the
// Liberation fonts the editor measures with), so it stays sharp, searchable and selectable. Text those
// fonts cannot write (Japanese, Chinese, Korean) is written in the server's CJK font, embedded as a subset;
// only when there is no such font (or it lacks a character) is it drawn into the picture, and the caller is told why.
import { PDFDocument, rgb, StandardFonts } from 'pdf-lib';
import type { PDFFont } from 'pdf-lib';
import type { Bubble, BubbleFont, Comic } from '../../project/schema.ts';
import { layoutBubbleText } from '../canvas/bubbleText.ts';
import { canvasPng, imagesFor, renderPageCanvas } from './renderPage.tsx';
import { embedCjkFont } from './cjkFont.ts';

const MM_TO_PT = 72 / 25.4;
/** Distance from a line's middle to its baseline, in ems (canvas draws each line middle-aligned). */
const MIDDLE_TO_BASELINE = 0.35;

export interface PdfResult {
  bytes: Uint8Array;
  /** Bubbles whose text had to be drawn as pixels. */
  rasterisedBubbles: number;
  /** Bubbles written in the embedded CJK font. */
  cjkBubbles: number;
  /** Why text was drawn as pixels (no CJK font on the server, a character it lacks), in words. */
  rasterReason: string | null;
}

function hex(c: string) {
  return rgb(parseInt(c.slice(1, 3), 16) / 255, parseInt(c.slice(3, 5), 16) / 255, parseInt(c.slice(5, 7), 16) / 255);
}

export async function exportComicPdf(comic: Comic, dpi = 300, onPage?: (done: number, total: number) => void): Promise<PdfResult> {
  if (comic.pages.length === 0) throw new Error('the comic has no pages yet');
  const pdf = await PDFDocument.create();
  pdf.setTitle(comic.title);
  pdf.setCreator('inkflow studio');
  const fonts: Record<BubbleFont, PDFFont> = {
    sans: await pdf.embedFont(StandardFonts.Helvetica),
    serif: await pdf.embedFont(StandardFonts.TimesRoman),
    mono: await pdf.embedFont(StandardFonts.Courier),
  };
  const standard = (b: Bubble) => {
    try {
      fonts[b.font].encodeText(b.text);
      return true;
    } catch {
      return false;
    }
  };
  // The CJK font is fetched and embedded only when some bubble needs it.
  const needCjk = comic.pages.some((p) => p.bubbles.some((b) => b.text.trim() && !standard(b)));
  const cjk = needCjk ? await embedCjkFont(pdf) : null;
  let rasterReason: string | null = cjk && 'missing' in cjk ? cjk.missing : null;
  const fontFor = (b: Bubble): PDFFont | null => {
    if (standard(b)) return fonts[b.font];
    if (cjk && 'font' in cjk) {
      if (cjk.covers(b.text)) return cjk.font;
      rasterReason = 'the font for Japanese, Chinese and Korean text lacks some of the characters';
    }
    return null;
  };
  const writable = (b: Bubble) => fontFor(b) !== null;
  let cjkBubbles = 0;
  const images = await imagesFor(comic, comic.pages);
  let rasterisedBubbles = 0;
  for (const [i, page] of comic.pages.entries()) {
    // Tall webtoon strips are drawn at a lower resolution if 300 dpi would exceed a canvas.
    const pxPerMm = Math.min(dpi / 25.4, 16_000 / page.size.height, 16_000 / page.size.width);
    const art = renderPageCanvas(page, images, pxPerMm, writable);
    const png = await pdf.embedPng(await canvasPng(art));
    const W = page.size.width * MM_TO_PT;
    const H = page.size.height * MM_TO_PT;
    const p = pdf.addPage([W, H]);
    p.drawImage(png, { x: 0, y: 0, width: W, height: H });
    for (const b of page.bubbles) {
      if (!b.text.trim()) continue;
      const font = fontFor(b);
      if (!font) {
        rasterisedBubbles++;
        continue;
      }
      if (font !== fonts[b.font]) cjkBubbles++;
      const t = layoutBubbleText(b);
      const size = t.fontSizeMm * MM_TO_PT;
      const blockTop = b.y + t.box.y + (t.box.h - t.lines.length * t.lineHeightMm) / 2;
      t.lines.forEach((line, li) => {
        if (!line) return;
        const widthMm = font.widthOfTextAtSize(line, size) / MM_TO_PT;
        const xMm = b.x + t.box.x + (t.box.w - widthMm) / 2;
        const middleMm = blockTop + (li + 0.5) * t.lineHeightMm;
        const baselineMm = middleMm + MIDDLE_TO_BASELINE * t.fontSizeMm;
        p.drawText(line, { x: xMm * MM_TO_PT, y: H - baselineMm * MM_TO_PT, size, font, color: hex(b.textColour) });
      });
    }
    onPage?.(i + 1, comic.pages.length);
  }
  return { bytes: await pdf.save(), rasterisedBubbles, cjkBubbles, rasterReason: rasterisedBubbles ? rasterReason : null };
}
