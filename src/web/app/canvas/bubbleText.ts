// Lays out a bubble's text with the browser's own font measurements. The result (lines, size, box) is
// what the canvas draws and what the PDF exporter writes as real text.
import type { Bubble } from '../../project/schema.ts';
import { textBox } from '../../render/bubbleGeometry.ts';
import { FONT_FAMILIES, LINE_HEIGHT, POINT_MM, wrapText } from '../../render/textLayout.ts';

let ctx: CanvasRenderingContext2D | null = null;
const REFERENCE_PX = 100;

function measurer(font: Bubble['font'], sizeMm: number): (s: string) => number {
  ctx ??= document.createElement('canvas').getContext('2d')!;
  ctx.font = `${REFERENCE_PX}px ${FONT_FAMILIES[font]}`;
  const c = ctx;
  const k = sizeMm / REFERENCE_PX;
  return (s) => {
    c.font = `${REFERENCE_PX}px ${FONT_FAMILIES[font]}`;
    return c.measureText(s).width * k;
  };
}

export interface BubbleTextLayout {
  lines: string[];
  fontSizeMm: number;
  lineHeightMm: number;
  /** Bubble-local text box; lines are centred in it horizontally and as a block vertically. */
  box: { x: number; y: number; w: number; h: number };
  /** Width of each line in mm (for centring in the PDF). */
  widths: number[];
}

export function layoutBubbleText(b: Bubble): BubbleTextLayout {
  const fontSizeMm = b.fontSize * POINT_MM;
  const box = textBox(b.kind, b.w, b.h);
  const measure = measurer(b.font, fontSizeMm);
  const lines = wrapText(b.text, box.w, measure);
  return { lines, fontSizeMm, lineHeightMm: fontSizeMm * LINE_HEIGHT, box, widths: lines.map(measure) };
}
