// The comic project document: one zod declaration that the editor (to open and import files) and the
// server's project store (to accept saves) both validate against. Lengths are millimetres on the printed
// page (a webtoon strip uses the same unit and is exported at a pixel width instead of a dpi). Pure zod,
// no DOM and no Node: the browser bundle and src/server/projects import this same file.
import { z } from 'zod';

export const PROJECT_FORMAT = 'inkflow-comic';
export const PROJECT_VERSION = 1;

const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'an id is 1–64 letters, digits, "-" or "_"');
/** Pictures live beside the document as content-addressed files: `<sha256>.<ext>`. */
export const assetName = z.string().regex(/^[a-f0-9]{64}\.(png|jpg|webp)$/, 'an asset is a <sha256>.png|jpg|webp file name');
const colour = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'a colour is written #rrggbb');
const length = z.number().finite().min(-10_000).max(100_000);
const size = z.number().finite().min(0).max(100_000);

export const imageLayerKinds = ['generated', 'lineart', 'flat', 'shading', 'sketch'] as const;
export const imageLayer = z.object({
  id,
  kind: z.enum(imageLayerKinds),
  asset: assetName,
  visible: z.boolean(),
  opacity: z.number().min(0).max(1),
  /** How the layer mixes with the ones under it: shading from the palette lock is `overlay` (mid grey = no change). */
  blend: z.enum(['normal', 'multiply', 'overlay']),
  /** cover (default): fill the panel, cropping the overflow; contain: show the whole picture. */
  fit: z.enum(['cover', 'contain']).optional(),
  /** The ComfyUI API prompt that made this picture, kept so exported PNGs carry it. */
  workflow: z.record(z.string(), z.unknown()).optional(),
});

/**
 * How the panel's pictures sit in it, all layers together (so colours stay on their line art): zoom about
 * the panel's centre, then a shift in millimetres. Absent = zoom 1, centred.
 */
export const framing = z.object({ zoom: z.number().min(0.2).max(8), x: length, y: length });

/**
 * A slanted panel: its outline as four corners in panel-local millimetres (top-left, top-right,
 * bottom-right, bottom-left), inside the panel's box (x, y, w, h is the outline's bounding box). Absent =
 * the box itself. Pictures are placed in the box and clipped to the outline.
 */
export const panelOutline = z.array(z.number().finite().min(-1).max(100_001)).length(8);

export const panel = z.object({
  id,
  x: length,
  y: length,
  w: size,
  h: size,
  borderWidth: z.number().min(0).max(20),
  borderColour: colour,
  /** Bottom to top. */
  layers: z.array(imageLayer).max(64),
  /** What the panel should show, for text→panel; the characters' snippets are added when generating. */
  prompt: z.string().max(4000),
  characterIds: z.array(id).max(16),
  framing: framing.optional(),
  outline: panelOutline.optional(),
});

export const bubbleKinds = ['oval', 'cloud', 'shout', 'rectangle', 'caption'] as const;
export const bubbleFonts = ['sans', 'serif', 'mono'] as const;
export const bubble = z.object({
  id,
  kind: z.enum(bubbleKinds),
  x: length,
  y: length,
  w: size,
  h: size,
  /** The tip of the tail in page millimetres; null for no tail (captions, thought without a speaker). */
  tail: z.object({ x: length, y: length }).nullable(),
  text: z.string().max(4000),
  font: z.enum(bubbleFonts),
  /** Points, as on paper (1 pt = 25.4/72 mm). */
  fontSize: z.number().min(4).max(96),
  fill: colour,
  stroke: colour,
  textColour: colour,
});

export const pagePresets = ['A4', 'B5', 'custom', 'webtoon'] as const;
export const layoutTemplates = ['1', '2', '3', '3-top', '4', '5', '6', 'manga', 'webtoon', 'custom'] as const;
export const page = z.object({
  id,
  size: z.object({ preset: z.enum(pagePresets), width: z.number().min(20).max(2000), height: z.number().min(20).max(20_000) }),
  /** slant (mm): how far the template's gutters lean (0 = upright); the gutters stay even. */
  layout: z.object({ template: z.enum(layoutTemplates), margin: z.number().min(0).max(100), gutter: z.number().min(0).max(100), slant: z.number().min(-60).max(60).optional() }),
  background: colour,
  /** Reading order. */
  panels: z.array(panel).max(64),
  /** Bubbles and captions sit on the page, above every panel, so they may cross gutters. */
  bubbles: z.array(bubble).max(256),
});

export const character = z.object({
  id,
  name: z.string().min(1).max(200),
  sheets: z.array(assetName).max(32),
  promptSnippet: z.string().max(2000),
  lora: z.object({ name: z.string().min(1).max(500), strength: z.number().min(-4).max(4) }).nullable(),
  /** A locked seed keeps the character's generations repeatable; null draws a new one each time. */
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable(),
  palette: z.array(colour).max(64),
});

export const comic = z.object({
  format: z.literal(PROJECT_FORMAT),
  version: z.literal(PROJECT_VERSION),
  id,
  title: z.string().min(1).max(200),
  pages: z.array(page).max(1000),
  characters: z.array(character).max(200),
});

export type ImageLayer = z.infer<typeof imageLayer>;
export type ImageLayerKind = (typeof imageLayerKinds)[number];
export type Panel = z.infer<typeof panel>;
export type Framing = z.infer<typeof framing>;
export type Bubble = z.infer<typeof bubble>;
export type BubbleKind = (typeof bubbleKinds)[number];
export type BubbleFont = (typeof bubbleFonts)[number];
export type Page = z.infer<typeof page>;
export type PagePreset = (typeof pagePresets)[number];
export type LayoutTemplate = (typeof layoutTemplates)[number];
export type Character = z.infer<typeof character>;
export type Comic = z.infer<typeof comic>;

export type ParsedComic = { ok: true; comic: Comic } | { ok: false; problems: string[] };

/** Where in the document a problem is, in words: `pages[0].panels[2].w` → `page 1, panel 3, w`. */
function describePath(path: readonly PropertyKey[]): string {
  const parts: string[] = [];
  for (let i = 0; i < path.length; i++) {
    const key = path[i];
    const next = path[i + 1];
    if (typeof key === 'string' && typeof next === 'number') {
      const noun = { pages: 'page', panels: 'panel', layers: 'layer', bubbles: 'bubble', characters: 'character', sheets: 'sheet', palette: 'palette colour' }[key] ?? key;
      parts.push(`${noun} ${next + 1}`);
      i++;
    } else parts.push(String(key));
  }
  return parts.length ? parts.join(', ') : 'the document';
}

/**
 * Validates an unknown value (a parsed JSON file, a stored row) as a comic. Problems come back as sentences
 * a person can act on, never as an exception, so a bad file is reported instead of opening a blank page.
 */
export function parseComic(value: unknown): ParsedComic {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, problems: ['this is not an inkflow comic: the file does not hold a JSON object'] };
  }
  const format = (value as { format?: unknown }).format;
  if (format !== PROJECT_FORMAT) {
    return { ok: false, problems: [`this is not an inkflow comic: "format" is ${JSON.stringify(format) ?? 'missing'}, expected "${PROJECT_FORMAT}"`] };
  }
  const version = (value as { version?: unknown }).version;
  if (typeof version === 'number' && version > PROJECT_VERSION) {
    return { ok: false, problems: [`this comic was saved by a newer inkflow (format version ${version}; this one reads version ${PROJECT_VERSION})`] };
  }
  const result = comic.safeParse(value);
  if (result.success) {
    const duplicate = duplicateIds(result.data);
    return duplicate ? { ok: false, problems: [duplicate] } : { ok: true, comic: result.data };
  }
  const problems = result.error.issues.slice(0, 12).map((issue) => {
    // zod says "Invalid input: expected array, received undefined"; a person reads "missing".
    const missing = issue.code === 'invalid_type' && /received undefined$/.test(issue.message);
    return `${describePath(issue.path)}: ${missing ? `missing (${issue.expected} expected)` : issue.message}`;
  });
  if (result.error.issues.length > 12) problems.push(`… and ${result.error.issues.length - 12} more problems`);
  return { ok: false, problems };
}

/** The editor addresses pages, panels, bubbles and characters by id, so two with one id would alias. */
function duplicateIds(c: Comic): string | null {
  const seen = new Set<string>();
  const all = [
    ...c.pages.flatMap((p) => [p.id, ...p.panels.flatMap((pn) => [pn.id, ...pn.layers.map((l) => l.id)]), ...p.bubbles.map((b) => b.id)]),
    ...c.characters.map((ch) => ch.id),
  ];
  for (const x of all) {
    if (seen.has(x)) return `the id "${x}" is used twice; every page, panel, layer, bubble and character needs its own`;
    seen.add(x);
  }
  return null;
}

/** Parses a project file's text: JSON syntax errors are reported like schema problems. */
export function parseComicText(text: string): ParsedComic {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, problems: [`the file is not valid JSON (${(e as Error).message})`] };
  }
  return parseComic(value);
}

/** Every picture a comic refers to (for upload checks and export). */
export function assetsOf(c: Comic): string[] {
  const names = new Set<string>();
  for (const p of c.pages) for (const pn of p.panels) for (const l of pn.layers) names.add(l.asset);
  for (const ch of c.characters) for (const s of ch.sheets) names.add(s);
  return [...names];
}
