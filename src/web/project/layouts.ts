// Layout templates: each is rows of panels with relative heights and widths, laid into the page's
// live area (page minus margins) with gutters between them. Manga pages read right to left, so their
// rows list panels right-first; the returned array is always in reading order.
import type { LayoutTemplate, Page, Panel } from './schema.ts';

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** A laid-out panel: its box, and its slanted outline (panel-local corners TL, TR, BR, BL) when the page is slanted. */
export interface PanelPlace extends Rect {
  outline?: number[];
}

interface RowSpec {
  height: number;
  widths: number[];
}

const TEMPLATES: Record<Exclude<LayoutTemplate, 'custom'>, { rows: RowSpec[]; rightToLeft?: boolean }> = {
  '1': { rows: [{ height: 1, widths: [1] }] },
  '2': { rows: [{ height: 1, widths: [1] }, { height: 1, widths: [1] }] },
  '3': { rows: [{ height: 1, widths: [1] }, { height: 1, widths: [1] }, { height: 1, widths: [1] }] },
  '3-top': { rows: [{ height: 1, widths: [1] }, { height: 1, widths: [1, 1] }] },
  '4': { rows: [{ height: 1, widths: [1, 1] }, { height: 1, widths: [1, 1] }] },
  '5': { rows: [{ height: 1.2, widths: [1] }, { height: 1, widths: [1, 1] }, { height: 1, widths: [1, 1] }] },
  '6': { rows: [{ height: 1, widths: [1, 1] }, { height: 1, widths: [1, 1] }, { height: 1, widths: [1, 1] }] },
  manga: { rows: [{ height: 0.9, widths: [0.6, 0.4] }, { height: 1.2, widths: [1] }, { height: 0.9, widths: [0.35, 0.65] }], rightToLeft: true },
  webtoon: { rows: [{ height: 1, widths: [1] }, { height: 1.4, widths: [1] }, { height: 0.8, widths: [1] }] },
};

export const TEMPLATE_LABELS: Record<LayoutTemplate, string> = {
  '1': '1 panel',
  '2': '2 panels',
  '3': '3 panels',
  '3-top': '3 panels (1 + 2)',
  '4': '4 panels',
  '5': '5 panels',
  '6': '6 panels',
  manga: 'Manga page (5, right to left)',
  webtoon: 'Webtoon strip',
  custom: 'Custom (as drawn)',
};

const round = (v: number): number => Math.round(v * 100) / 100;

/** A line x = a + m·(y − cy) (a panel's left or right edge) or y = b + k·(x − cx) (top or bottom). */
interface Upright { a: number; m: number; cy: number }
interface Across { b: number; k: number; cx: number }

function corner(v: Upright, h: Across): [number, number] {
  const y = (h.b + h.k * (v.a - v.m * v.cy - h.cx)) / (1 - h.k * v.m);
  return [v.a + v.m * (y - v.cy), y];
}

/**
 * Panels (mm) for `template` on `page`, using the page's margin, gutter and slant. With a slant, the gutters
 * between panels of a row lean by `slant` mm over the row's height (alternately left and right from row to
 * row) and the gutters between rows tilt by half of it across the page; both sides of a gutter stay parallel,
 * so every gutter is as wide at one end as at the other. The page's outer edges stay straight.
 */
export function layoutPanels(page: Pick<Page, 'size' | 'layout' | 'panels'>, template: LayoutTemplate): PanelPlace[] {
  if (template === 'custom') return page.panels.map(({ x, y, w, h, outline }) => (outline ? { x, y, w, h, outline } : { x, y, w, h }));
  const { rows, rightToLeft } = TEMPLATES[template];
  const { margin, gutter } = page.layout;
  const slant = page.layout.slant ?? 0;
  const liveW = Math.max(1, page.size.width - 2 * margin);
  const liveH = Math.max(1, page.size.height - 2 * margin);
  const cx = margin + liveW / 2;
  const totalRowWeight = rows.reduce((s, r) => s + r.height, 0);
  const rowSpace = Math.max(0, liveH - gutter * (rows.length - 1));
  const places: PanelPlace[] = [];
  let y = margin;
  rows.forEach((row, r) => {
    const h = (rowSpace * row.height) / totalRowWeight;
    // The row's top and bottom lines: the page edge, or one side of a tilted gutter (alternating tilt).
    const tilt = (i: number) => ((i % 2 === 0 ? 1 : -1) * slant) / 2 / liveW;
    const top: Across = { b: y, k: r === 0 ? 0 : tilt(r - 1), cx };
    const bottom: Across = { b: y + h, k: r === rows.length - 1 ? 0 : tilt(r), cx };
    const lean = h > 0 ? ((r % 2 === 0 ? 1 : -1) * slant) / h : 0;
    const cy = y + h / 2;
    const colSpace = Math.max(0, liveW - gutter * (row.widths.length - 1));
    const totalColWeight = row.widths.reduce((s, w) => s + w, 0);
    const cells: PanelPlace[] = [];
    let x = margin;
    row.widths.forEach((weight, c) => {
      const w = (colSpace * weight) / totalColWeight;
      if (!slant) cells.push({ x: round(x), y: round(y), w: round(w), h: round(h) });
      else {
        const left: Upright = { a: x, m: c === 0 ? 0 : lean, cy };
        const right: Upright = { a: x + w, m: c === row.widths.length - 1 ? 0 : lean, cy };
        const pts = [corner(left, top), corner(right, top), corner(right, bottom), corner(left, bottom)];
        const x0 = Math.min(...pts.map((p) => p[0]));
        const y0 = Math.min(...pts.map((p) => p[1]));
        const x1 = Math.max(...pts.map((p) => p[0]));
        const y1 = Math.max(...pts.map((p) => p[1]));
        const bx = round(x0);
        const by = round(y0);
        cells.push({ x: bx, y: by, w: round(x1 - x0), h: round(y1 - y0), outline: pts.flatMap(([px, py]) => [round(px - bx), round(py - by)]) });
      }
      x += w + gutter;
    });
    places.push(...(rightToLeft ? cells.reverse() : cells));
    y += h + gutter;
  });
  return places;
}

/**
 * Lays `template` onto a page that may already have panels: the first panels keep their pictures,
 * prompts and characters in reading order, extra rectangles become empty panels. Returns the panels
 * that had to go because the template has fewer (the caller says so; undo brings them back).
 */
export function applyTemplate(
  page: Page,
  template: LayoutTemplate,
  makePanel: (r: PanelPlace) => Panel,
): { page: Page; dropped: Panel[] } {
  const rects = layoutPanels(page, template);
  // A panel that had a slanted outline and now has none loses it (outline: undefined drops it).
  const panels = rects.map((r, i) => (page.panels[i] ? { ...page.panels[i], outline: undefined, ...r } : makePanel(r)));
  const dropped = page.panels.slice(rects.length);
  return { page: { ...page, layout: { ...page.layout, template }, panels }, dropped };
}

/** True when a point lies inside a rectangle (used to find the panel a dragged panel was dropped on). */
export function contains(r: Rect, px: number, py: number): boolean {
  return px >= r.x && px <= r.x + r.w && py >= r.y && py <= r.y + r.h;
}
