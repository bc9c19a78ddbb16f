import { describe, expect, it } from 'vitest';
import { addPage, setPanelRect, setSpacing, setTemplate, swapPanelsAt } from './edits.ts';
import { newComic, newPage } from './newDocument.ts';

const ASSET = `${'cd'.repeat(32)}.png`;

function comicWithPage(template: '3' | '6' = '3') {
  const page = newPage('A4', template);
  page.panels[0].layers.push({ id: 'l1', kind: 'generated', asset: ASSET, visible: true, opacity: 1, blend: 'normal' });
  return { comic: addPage(newComic('t'), page), page };
}

describe('page edits', () => {
  it('dropping a panel on another swaps their places and keeps their pictures', () => {
    const { comic, page } = comicWithPage();
    const [a, b] = page.panels;
    const swapped = swapPanelsAt(comic, page.id, a.id, b.x + b.w / 2, b.y + b.h / 2)!;
    const [p0, p1] = swapped.pages[0].panels;
    expect(p0.id).toBe(b.id);
    expect(p1.id).toBe(a.id);
    expect(p1.layers[0].asset).toBe(ASSET);
    expect({ x: p1.x, y: p1.y }).toEqual({ x: b.x, y: b.y });
    expect(swapPanelsAt(comic, page.id, a.id, -50, -50)).toBeNull();
  });

  it('a template change keeps the first panels\' contents and reports the panels it removed', () => {
    const { comic, page } = comicWithPage('6');
    page.panels[5].layers.push({ id: 'l6', kind: 'flat', asset: ASSET, visible: true, opacity: 1, blend: 'normal' });
    const r = setTemplate(comic, page.id, '1');
    expect(r.comic.pages[0].panels).toHaveLength(1);
    expect(r.comic.pages[0].panels[0].layers[0].id).toBe('l1');
    expect(r.dropped.map((p) => p.id)).toEqual(page.panels.slice(1).map((p) => p.id));
  });

  it('spacing re-lays a template page but leaves a hand-drawn one alone', () => {
    const { comic, page } = comicWithPage();
    const wider = setSpacing(comic, page.id, { gutter: 20 });
    expect(wider.pages[0].panels[1].y).toBeGreaterThan(page.panels[1].y);
    const moved = setPanelRect(comic, page.id, page.panels[0].id, { x: 30, y: 30, w: 50, h: 50 });
    expect(moved.pages[0].layout.template).toBe('custom');
    const still = setSpacing(moved, page.id, { gutter: 20 });
    expect(still.pages[0].panels[0]).toMatchObject({ x: 30, y: 30, w: 50, h: 50 });
  });

  it('slanting a template page gives every panel an outline; resizing stretches it; swapping exchanges it; slant 0 removes it', () => {
    const { comic, page } = comicWithPage('6');
    const slanted = setSpacing(comic, page.id, { slant: 6 });
    const panels = slanted.pages[0].panels;
    expect(panels.every((pn) => pn.outline?.length === 8)).toBe(true);
    expect(panels[0].layers).toHaveLength(1); // pictures stay
    const a = panels[0];
    const resized = setPanelRect(slanted, page.id, a.id, { x: a.x, y: a.y, w: a.w * 2, h: a.h / 2 }).pages[0];
    expect(resized.layout.template).toBe('custom');
    expect(resized.panels[0].outline).toEqual(a.outline!.map((v, k) => Math.round((k % 2 === 0 ? v * 2 : v / 2) * 100) / 100));
    const b = panels[1];
    const swapped = swapPanelsAt(slanted, page.id, a.id, b.x + b.w / 2, b.y + b.h / 2)!.pages[0].panels;
    expect(swapped[0].outline).toEqual(a.outline);
    expect(swapped[1].outline).toEqual(b.outline);
    const upright = setSpacing(slanted, page.id, { slant: 0 }).pages[0].panels;
    expect(upright.every((pn) => pn.outline === undefined)).toBe(true);
  });
});
