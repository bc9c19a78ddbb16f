import { describe, expect, it } from 'vitest';
import { assetsOf, parseComic, parseComicText } from './schema.ts';
import { newBubble, newCharacter, newComic, newPage } from './newDocument.ts';

const ASSET = `${'ab'.repeat(32)}.png`;

function sample() {
  const c = newComic('Test comic');
  const page = newPage('A4', '3');
  page.panels[0].layers.push({ id: 'layer-1', kind: 'lineart', asset: ASSET, visible: true, opacity: 1, blend: 'normal' });
  page.bubbles.push(newBubble('oval', 50, 50, 'Hello!'));
  const ch = { ...newCharacter('Mika'), sheets: [ASSET], palette: ['#ff0000'] };
  return { ...c, pages: [page], characters: [ch] };
}

describe('parseComic', () => {
  it('accepts a document made by the factories and survives a JSON round trip', () => {
    const c = sample();
    const r = parseComicText(JSON.stringify(c));
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.comic).toEqual(c);
    expect(assetsOf(c)).toEqual([ASSET]);
  });

  it('says what is wrong and where, in words', () => {
    const c = sample() as any;
    c.pages[0].panels[2].w = -5;
    c.pages[0].bubbles[0].kind = 'heart';
    delete c.pages[0].background;
    const r = parseComic(c);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problems.some((p) => p.startsWith('page 1, panel 3, w:'))).toBe(true);
      expect(r.problems.some((p) => p.startsWith('page 1, bubble 1, kind:'))).toBe(true);
      expect(r.problems).toContain('page 1, background: missing (string expected)');
    }
  });

  it('recognises files that are not comics, newer formats, broken JSON and duplicate ids', () => {
    const problem = (v: unknown) => {
      const r = typeof v === 'string' ? parseComicText(v) : parseComic(v);
      return r.ok ? '' : r.problems[0];
    };
    expect(problem([1, 2])).toMatch(/not an inkflow comic/);
    expect(problem({ format: 'psd' })).toMatch(/"format" is "psd"/);
    expect(problem({ ...sample(), version: 7 })).toMatch(/newer inkflow \(format version 7/);
    expect(problem('{"format": ')).toMatch(/not valid JSON/);
    const c = sample();
    c.pages[0].panels[1] = { ...c.pages[0].panels[1], id: c.pages[0].panels[0].id };
    expect(problem(c)).toMatch(/is used twice/);
  });

  it('refuses asset names that could reach outside the project folder', () => {
    const c = sample() as any;
    c.characters[0].sheets = ['../../etc/passwd'];
    const r = parseComic(c);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems[0]).toMatch(/character 1, sheet 1: an asset is/);
  });
});
