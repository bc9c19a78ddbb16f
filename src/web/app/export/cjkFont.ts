// A font for bubble text the PDF's built-in fonts cannot write (Japanese, Chinese, Korean): the server's
// CJK font (GET /studio/fonts/cjk), embedded by pdf-lib through fontkit as a subset — only the glyphs the
// comic uses go into the PDF (a few kilobytes), so the text stays real, selectable text.
import fontkit from '@pdf-lib/fontkit';
import type { PDFDocument, PDFFont } from 'pdf-lib';
import { authed } from '../api/serverToken.ts';

export interface CjkFont {
  font: PDFFont;
  /** Does the font have a glyph for every character of `text` (spaces and line breaks aside)? */
  covers(text: string): boolean;
}

let bytes: Promise<Uint8Array> | null = null;

async function fetchFont(): Promise<Uint8Array> {
  const r = await fetch(authed('/studio/fonts/cjk'));
  if (!r.ok) {
    const body = (await r.json().catch(() => null)) as { error?: string } | null;
    throw new Error(body?.error ?? `the server could not send its font for Japanese, Chinese or Korean text (HTTP ${r.status})`);
  }
  return new Uint8Array(await r.arrayBuffer());
}

/** The embedded font, or the reason there is none (said to the painter as it is). */
export async function embedCjkFont(pdf: PDFDocument): Promise<CjkFont | { missing: string }> {
  if (!fontkit) return { missing: 'this studio was built without font support for Japanese, Chinese or Korean text (the @pdf-lib/fontkit package is not installed)' };
  const kit = fontkit;
  bytes ??= fetchFont();
  let data: Uint8Array;
  try {
    data = await bytes;
  } catch (e) {
    bytes = null;
    return { missing: (e as Error).message };
  }
  let face: ReturnType<typeof pickFace> | null = null;
  // A .ttc holds several faces; pdf-lib wants one, so fontkit's create is wrapped to pick the first.
  const pickFace = (b: Uint8Array, name?: string) => {
    const f = kit.create(b, name);
    return 'fonts' in f ? f.fonts[0] : f;
  };
  pdf.registerFontkit({ create: (b: Uint8Array, name?: string) => (face = pickFace(b, name)) } as unknown as Parameters<PDFDocument['registerFontkit']>[0]);
  const font = await pdf.embedFont(data, { subset: true });
  const f = face as ReturnType<typeof pickFace> | null;
  if (!f) return { missing: 'the font for Japanese, Chinese or Korean text could not be read' };
  return { font, covers: (text) => [...text].every((ch) => /\s/.test(ch) || f.hasGlyphForCodePoint(ch.codePointAt(0)!)) };
}
