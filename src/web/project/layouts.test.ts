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

  it('slanted gutters lean but stay even: both sides of every gutter are parallel, one gutter apart; outer edges stay straight', () => {
    const slanted = { ...page(10, 4), layout: { template: '4' as const, margin: 10, gutter: 4, slant: 8 } };
    const places = layoutPanels(slanted, '4');
    // Corners in page millimetres: TL, TR, BR, BL.
    const corners = places.map((p) => [0, 1, 2, 3].map((k) => [p.x + p.outline![2 * k], p.y + p.outline![2 * k + 1]]));
    for (const [a, b] of [[0, 1], [2, 3]]) {
      // Same row: the right edge of a and the left edge of b are one gutter apart at the top and at the bottom…
      expect(corners[b][0][0] - corners[a][1][0]).toBeCloseTo(4, 1);
      expect(corners[b][3][0] - corners[a][2][0]).toBeCloseTo(4, 1);
      // …and the gutter leans by the slant over the row (8 mm), the other way on the next row.
      expect(Math.abs(corners[a][1][0] - corners[a][2][0])).toBeCloseTo(8, 0);
    }
    expect(Math.sign(corners[0][1][0] - corners[0][2][0])).toBe(-Math.sign(corners[2][1][0] - corners[2][2][0]));
    // Between rows: at the left and right page edges the gutter is 4 mm tall, and it tilts.
    expect(corners[2][0][1] - corners[0][3][1]).toBeCloseTo(4, 1);
    expect(corners[3][1][1] - corners[1][2][1]).toBeCloseTo(4, 1);
    expect(Math.abs(corners[0][3][1] - corners[1][2][1])).toBeCloseTo(4, 0);
    // Outer edges: the page's live area.
    expect(corners[0][0]).toEqual([10, 10]);
    expect(corners[3][2][0]).toBeCloseTo(200, 2);
    expect(corners[3][2][1]).toBeCloseTo(287, 2);
    // Without a slant there is no outline and the boxes are the upright ones.
    const upright = layoutPanels({ ...slanted, layout: { ...slanted.layout, slant: 0 } }, '4');
    expect(upright.every((p) => p.outline === undefined)).toBe(true);
    expect(upright).toEqual(layoutPanels(page(10, 4), '4'));
  });
});
