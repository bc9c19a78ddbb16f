import { describe, expect, it } from 'vitest';
import { layoutPanels, TEMPLATE_LABELS } from './layouts.ts';
import type { Rect } from './layouts.ts';
import type { LayoutTemplate } from './schema.ts';
import { PAGE_SIZES } from './newDocument.ts';

const page = (margin: number, gutter: number) => ({ size: { preset: 'A4' as const, ...PAGE_SIZES.A4 }, layout: { template: '1' as const, margin, gutter }, panels: [] });
const overlap = (a: Rect, b: Rect) => a.x < b.x + b.w - 1e-6 && b.x < a.x + a.w - 1e-6 && a.y < b.y + b.h - 1e-6 && b.y < a.y + a.h - 1e-6;

describe('layoutPanels', () => {
  const counts: Record<Exclude<LayoutTemplate, 'custom'>, number> = { '1': 1, '2': 2, '3': 3, '3-top': 3, '4': 4, '5': 5, '6': 6, manga: 5, webtoon: 3 };
  for (const [template, n] of Object.entries(counts) as [Exclude<LayoutTemplate, 'custom'>, number][]) {
    it(`${TEMPLATE_LABELS[template]}: ${n} panels inside the margins, apart by the gutter, covering the live area`, () => {
      const rects = layoutPanels(page(10, 4), template);
      expect(rects).toHaveLength(n);
      let area = 0;
      for (const r of rects) {
        expect(r.x).toBeGreaterThanOrEqual(10 - 0.01);
        expect(r.y).toBeGreaterThanOrEqual(10 - 0.01);
        expect(r.x + r.w).toBeLessThanOrEqual(200 + 0.02);
        expect(r.y + r.h).toBeLessThanOrEqual(287 + 0.02);
        area += r.w * r.h;
      }
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) expect(overlap(rects[i], rects[j])).toBe(false);
      // Panels plus gutters fill the live area: what is left is only the gutter strips.
      const live = 190 * 277;
      expect(area).toBeLessThanOrEqual(live + 0.5);
      expect(area).toBeGreaterThan(live - 4 * (190 + 277) * 3);
    });
  }

  it('reads a manga page right to left: the first panel is top right', () => {
    const [first, second] = layoutPanels(page(10, 4), 'manga');
    expect(first.y).toBe(second.y);
    expect(first.x).toBeGreaterThan(second.x);
  });

  it('a wider gutter moves panels apart', () => {
    const [a, b] = layoutPanels(page(10, 4), '2');
    const [c, d] = layoutPanels(page(10, 12), '2');
    expect(b.y - (a.y + a.h)).toBeCloseTo(4, 1);
    expect(d.y - (c.y + c.h)).toBeCloseTo(12, 1);
  });
});
