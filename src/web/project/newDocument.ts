// Fresh documents and parts with sensible defaults. Ids are random (crypto.getRandomValues exists in both
// browsers and Node), so parts made in two tabs never collide.
import type { Bubble, BubbleKind, Character, Comic, LayoutTemplate, Page, PagePreset, Panel } from './schema.ts';
import { PROJECT_FORMAT, PROJECT_VERSION } from './schema.ts';
import { layoutPanels } from './layouts.ts';

export function newId(prefix: string): string {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** Page sizes in millimetres. B5 is the JIS size manga magazines print at; a webtoon strip is a tall column. */
export const PAGE_SIZES: Record<Exclude<PagePreset, 'custom'>, { width: number; height: number }> = {
  A4: { width: 210, height: 297 },
  B5: { width: 182, height: 257 },
  webtoon: { width: 100, height: 600 },
};

export function newComic(title: string, id = newId('comic')): Comic {
  return { format: PROJECT_FORMAT, version: PROJECT_VERSION, id, title, pages: [], characters: [] };
}

export function newPage(preset: PagePreset = 'A4', template: LayoutTemplate = '3', custom?: { width: number; height: number }): Page {
  const size = preset === 'custom' ? (custom ?? { width: 210, height: 297 }) : PAGE_SIZES[preset];
  const tpl = preset === 'webtoon' && template !== 'custom' ? 'webtoon' : template;
  const layout = { template: tpl, margin: preset === 'webtoon' ? 0 : 10, gutter: preset === 'webtoon' ? 40 : 4 };
  const page: Page = { id: newId('page'), size: { preset, ...size }, layout, background: '#ffffff', panels: [], bubbles: [] };
  return { ...page, panels: layoutPanels(page, tpl).map((r) => newPanel(r)) };
}

export function newPanel(rect: { x: number; y: number; w: number; h: number; outline?: number[] }): Panel {
  return { id: newId('panel'), ...rect, borderWidth: 0.8, borderColour: '#111111', layers: [], prompt: '', characterIds: [] };
}

/** A bubble centred on (cx, cy), with the tail pointing down-left as a first guess for a speaker below. */
export function newBubble(kind: BubbleKind, cx: number, cy: number, text = ''): Bubble {
  const caption = kind === 'caption';
  const w = caption ? 60 : 46;
  const h = caption ? 16 : 26;
  return {
    id: newId('bubble'),
    kind,
    x: cx - w / 2,
    y: cy - h / 2,
    w,
    h,
    tail: caption ? null : { x: cx - w / 4, y: cy + h },
    text,
    font: 'sans',
    fontSize: caption ? 9 : 11,
    fill: caption ? '#fff8dc' : '#ffffff',
    stroke: '#111111',
    textColour: '#111111',
  };
}

export function newCharacter(name: string): Character {
  return { id: newId('char'), name, sheets: [], promptSnippet: '', lora: null, seed: null, palette: [] };
}
