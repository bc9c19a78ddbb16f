// Pure edits on the comic document. Each returns a new document (or the same one when nothing changed),
// so the history can keep old versions and React can compare by reference.
import type { Bubble, Character, Comic, ImageLayer, Page, Panel } from './schema.ts';
import { applyTemplate, contains, layoutPanels } from './layouts.ts';
import type { Rect } from './layouts.ts';
import { newPanel } from './newDocument.ts';

export function mapPage(c: Comic, pageId: string, fn: (p: Page) => Page): Comic {
  let changed = false;
  const pages = c.pages.map((p) => {
    if (p.id !== pageId) return p;
    const next = fn(p);
    changed ||= next !== p;
    return next;
  });
  return changed ? { ...c, pages } : c;
}

export function mapPanel(c: Comic, pageId: string, panelId: string, fn: (p: Panel) => Panel): Comic {
  return mapPage(c, pageId, (p) => {
    const i = p.panels.findIndex((pn) => pn.id === panelId);
    if (i < 0) return p;
    const next = fn(p.panels[i]);
    return next === p.panels[i] ? p : { ...p, panels: p.panels.with(i, next) };
  });
}

export function mapBubble(c: Comic, pageId: string, bubbleId: string, fn: (b: Bubble) => Bubble): Comic {
  return mapPage(c, pageId, (p) => {
    const i = p.bubbles.findIndex((b) => b.id === bubbleId);
    if (i < 0) return p;
    const next = fn(p.bubbles[i]);
    return next === p.bubbles[i] ? p : { ...p, bubbles: p.bubbles.with(i, next) };
  });
}

export function addPage(c: Comic, page: Page, at = c.pages.length): Comic {
  return { ...c, pages: c.pages.toSpliced(at, 0, page) };
}

export function removePage(c: Comic, pageId: string): Comic {
  return { ...c, pages: c.pages.filter((p) => p.id !== pageId) };
}

export function movePage(c: Comic, pageId: string, delta: number): Comic {
  const i = c.pages.findIndex((p) => p.id === pageId);
  const j = i + delta;
  if (i < 0 || j < 0 || j >= c.pages.length) return c;
  const pages = [...c.pages];
  [pages[i], pages[j]] = [pages[j], pages[i]];
  return { ...c, pages };
}

export function setTemplate(c: Comic, pageId: string, template: Page['layout']['template']): { comic: Comic; dropped: Panel[] } {
  let dropped: Panel[] = [];
  const comic = mapPage(c, pageId, (p) => {
    const r = applyTemplate(p, template, newPanel);
    dropped = r.dropped;
    return r.page;
  });
  return { comic, dropped };
}

/** New margin, gutter or slant: a page laid out by a template is laid out again; a hand-drawn one keeps its panels. */
export function setSpacing(c: Comic, pageId: string, spacing: { margin?: number; gutter?: number; slant?: number }): Comic {
  return mapPage(c, pageId, (p) => {
    const layout = { ...p.layout, ...spacing };
    const next = { ...p, layout };
    if (layout.template === 'custom') return next;
    const rects = layoutPanels(next, layout.template);
    return { ...next, panels: p.panels.map((pn, i) => (rects[i] ? { ...pn, outline: undefined, ...rects[i] } : pn)) };
  });
}

/** A panel moved or resized by hand: the page's layout becomes "custom" so a later spacing change keeps it; a slanted outline stretches with its box. */
export function setPanelRect(c: Comic, pageId: string, panelId: string, r: Rect): Comic {
  const clean = { x: round2(r.x), y: round2(r.y), w: Math.max(5, round2(r.w)), h: Math.max(5, round2(r.h)) };
  return mapPage(c, pageId, (p) => {
    const i = p.panels.findIndex((pn) => pn.id === panelId);
    if (i < 0) return p;
    const old = p.panels[i];
    const outline = old.outline?.map((v, k) => round2(k % 2 === 0 ? (v * clean.w) / Math.max(old.w, 1e-6) : (v * clean.h) / Math.max(old.h, 1e-6)));
    return { ...p, layout: { ...p.layout, template: 'custom' }, panels: p.panels.with(i, { ...old, ...clean, ...(outline ? { outline } : {}) }) };
  });
}

/**
 * A panel dropped with its centre inside another panel swaps places with it: they exchange rectangles and
 * reading order, keeping their pictures. Returns null when the drop point is on no other panel.
 */
export function swapPanelsAt(c: Comic, pageId: string, panelId: string, dropX: number, dropY: number): Comic | null {
  const page = c.pages.find((p) => p.id === pageId);
  if (!page) return null;
  const i = page.panels.findIndex((pn) => pn.id === panelId);
  const j = page.panels.findIndex((pn) => pn.id !== panelId && contains(pn, dropX, dropY));
  if (i < 0 || j < 0) return null;
  const a = page.panels[i];
  const b = page.panels[j];
  const panels = [...page.panels];
  panels[i] = { ...b, x: a.x, y: a.y, w: a.w, h: a.h, outline: a.outline };
  panels[j] = { ...a, x: b.x, y: b.y, w: b.w, h: b.h, outline: b.outline };
  return mapPage(c, pageId, (p) => ({ ...p, panels }));
}

/** Moves a panel earlier or later in reading order without moving it on the page. */
export function movePanelOrder(c: Comic, pageId: string, panelId: string, delta: number): Comic {
  return mapPage(c, pageId, (p) => {
    const i = p.panels.findIndex((pn) => pn.id === panelId);
    const j = i + delta;
    if (i < 0 || j < 0 || j >= p.panels.length) return p;
    const panels = [...p.panels];
    [panels[i], panels[j]] = [panels[j], panels[i]];
    return { ...p, panels };
  });
}

export function addPanel(c: Comic, pageId: string, panel: Panel): Comic {
  return mapPage(c, pageId, (p) => ({ ...p, layout: { ...p.layout, template: 'custom' }, panels: [...p.panels, panel] }));
}

export function removePanel(c: Comic, pageId: string, panelId: string): Comic {
  return mapPage(c, pageId, (p) => ({ ...p, layout: { ...p.layout, template: 'custom' }, panels: p.panels.filter((pn) => pn.id !== panelId) }));
}

export function addBubble(c: Comic, pageId: string, b: Bubble): Comic {
  return mapPage(c, pageId, (p) => ({ ...p, bubbles: [...p.bubbles, b] }));
}

export function removeBubble(c: Comic, pageId: string, bubbleId: string): Comic {
  return mapPage(c, pageId, (p) => ({ ...p, bubbles: p.bubbles.filter((b) => b.id !== bubbleId) }));
}

/** Adds a picture layer on top of a panel; a layer of the same kind is replaced (a new colour flat replaces the old). */
export function putLayer(c: Comic, pageId: string, panelId: string, layer: ImageLayer, replaceKind = true): Comic {
  return mapPanel(c, pageId, panelId, (pn) => {
    const kept = replaceKind ? pn.layers.filter((l) => l.kind !== layer.kind) : pn.layers;
    return { ...pn, layers: [...kept, layer] };
  });
}

export function mapLayer(c: Comic, pageId: string, panelId: string, layerId: string, fn: (l: ImageLayer) => ImageLayer): Comic {
  return mapPanel(c, pageId, panelId, (pn) => {
    const i = pn.layers.findIndex((l) => l.id === layerId);
    return i < 0 ? pn : { ...pn, layers: pn.layers.with(i, fn(pn.layers[i])) };
  });
}

export function removeLayer(c: Comic, pageId: string, panelId: string, layerId: string): Comic {
  return mapPanel(c, pageId, panelId, (pn) => ({ ...pn, layers: pn.layers.filter((l) => l.id !== layerId) }));
}

export function putCharacter(c: Comic, ch: Character): Comic {
  const i = c.characters.findIndex((x) => x.id === ch.id);
  return { ...c, characters: i < 0 ? [...c.characters, ch] : c.characters.with(i, ch) };
}

export function removeCharacter(c: Comic, id: string): Comic {
  return {
    ...c,
    characters: c.characters.filter((x) => x.id !== id),
    pages: c.pages.map((p) => ({ ...p, panels: p.panels.map((pn) => ({ ...pn, characterIds: pn.characterIds.filter((x) => x !== id) })) })),
  };
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}
