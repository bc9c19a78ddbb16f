// Bubble text is laid out once, by words, and the same lines are used on screen, in PNG exports and in
// the PDF (where it stays real, selectable text). The width of a string comes from a `measure` callback,
// so the browser can measure with its canvas and tests with a fixed-width stand-in.
import type { BubbleFont } from '../project/schema.ts';

export const POINT_MM = 25.4 / 72;
export const LINE_HEIGHT = 1.18;

/** CSS font families for the three bubble fonts. The Liberation fonts have the metrics of Helvetica,
 *  Times and Courier — the fonts every PDF reader has built in — so lines measured on screen fit in the PDF. */
export const FONT_FAMILIES: Record<BubbleFont, string> = {
  sans: '"Liberation Sans", Arial, Helvetica, sans-serif',
  serif: '"Liberation Serif", "Times New Roman", Times, serif',
  mono: '"Liberation Mono", "Courier New", Courier, monospace',
};

export type Measure = (text: string) => number;

/** Characters a Japanese or Chinese line must not begin with (kinsoku): closing marks, small kana, the long-vowel mark. */
const NO_LINE_START = /^[、。，．,.!?！？：；）」』】〕〉》’”ゝゞーぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ…‥・]/u;

/** Greedy word wrap: paragraphs stay paragraphs; a word wider than the box is broken between letters. */
export function wrapText(text: string, maxWidth: number, measure: Measure): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split(/\r?\n/)) {
    const words = paragraph.split(/\s+/).filter(Boolean);
    if (words.length === 0) {
      lines.push('');
      continue;
    }
    let line = '';
    for (const word of words) {
      const candidate = line ? `${line} ${word}` : word;
      if (measure(candidate) <= maxWidth || !line) {
        line = candidate;
      } else {
        lines.push(line);
        line = word;
      }
      // A single word wider than the box: cut it where it stops fitting.
      while (measure(line) > maxWidth && line.length > 1) {
        let cut = line.length - 1;
        while (cut > 1 && measure(line.slice(0, cut)) > maxWidth) cut--;
        // A closing mark goes with the character before it, so the next line does not begin with it.
        while (cut > 1 && NO_LINE_START.test(line.slice(cut))) cut--;
        lines.push(line.slice(0, cut));
        line = line.slice(cut);
      }
    }
    lines.push(line);
  }
  return lines;
}
