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

/** Panel rectangles (mm) for `template` on `page`, using the page's margin and gutter. */
export function layoutPanels(page: Pick<Page, 'size' | 'layout' | 'panels'>, template: LayoutTemplate): Rect[] {
  if (template === 'custom') return page.panels.map(({ x, y, w, h }) => ({ x, y, w, h }));
  const { rows, rightToLeft } = TEMPLATES[template];
  const { margin, gutter } = page.layout;
  const liveW = Math.max(1, page.size.width - 2 * margin);
  const liveH = Math.max(1, page.size.height - 2 * margin);
  const totalRowWeight = rows.reduce((s, r) => s + r.height, 0);
  const rowSpace = Math.max(0, liveH - gutter * (rows.length - 1));
  const rects: Rect[] = [];
  let y = margin;
  for (const row of rows) {
    const h = (rowSpace * row.height) / totalRowWeight;
    const colSpace = Math.max(0, liveW - gutter * (row.widths.length - 1));
    const totalColWeight = row.widths.reduce((s, w) => s + w, 0);
    const cells: Rect[] = [];
    let x = margin;
    for (const weight of row.widths) {
      const w = (colSpace * weight) / totalColWeight;
      cells.push({ x: round(x), y: round(y), w: round(w), h: round(h) });
      x += w + gutter;
    }
    rects.push(...(rightToLeft ? cells.reverse() : cells));
    y += h + gutter;
  }
  return rects;
}

/**
 * Lays `template` onto a page that may already have panels: the first panels keep their pictures,
 * prompts and characters in reading order, extra rectangles become empty panels. Returns the panels
 * that had to go because the template has fewer (the caller says so; undo brings them back).
 */
export function applyTemplate(
  page: Page,
  template: LayoutTemplate,
  makePanel: (r: Rect) => Panel,
): { page: Page; dropped: Panel[] } {
  const rects = layoutPanels(page, template);
  const panels = rects.map((r, i) => (page.panels[i] ? { ...page.panels[i], ...r } : makePanel(r)));
  const dropped = page.panels.slice(rects.length);
  return { page: { ...page, layout: { ...page.layout, template }, panels }, dropped };
}

/** True when a point lies inside a rectangle (used to find the panel a dragged panel was dropped on). */
export function contains(r: Rect, px: number, py: number): boolean {
  return px >= r.x && px <= r.x + r.w && py >= r.y && py <= r.y + r.h;
}
