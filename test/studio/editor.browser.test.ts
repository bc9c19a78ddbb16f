// The studio in a real browser against a real server (projects plugin + built app): make a one-page
// comic with a 3-panel layout and a speech bubble, reload (nothing lost), undo, swap panels by dragging,
// export a PDF (rendered by pdftoppm, bubble text found by pdftotext) and a 300 dpi page PNG, and see
// bad project files explained instead of a blank page. Screenshots go to out/studio/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Page as BrowserPage } from 'playwright-core';
import { startStudioServer } from './studioServer.ts';
import type { StudioServer } from './studioServer.ts';
import { launchChromium, openStudioPage, pageToScreen } from './browser.ts';
import type { Comic } from '../../src/web/project/schema.ts';

const SHOTS = join(import.meta.dirname, '../../out/studio');
const TEXT = 'Hello from the night market!';

let server: StudioServer;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let page: BrowserPage;
const pageErrors: string[] = [];

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

/** Screen position of a point given in page millimetres (the canvas publishes its scale and origin). */
const toScreen = (xMm: number, yMm: number) => pageToScreen(page, xMm, yMm);

async function stored(id: string): Promise<Comic> {
  const r = await fetch(`${server.url}/studio/projects/${id}`);
  return ((await r.json()) as { comic: Comic }).comic;
}

async function waitSaved(): Promise<void> {
  // A string, so this Node-side file needs no DOM types.
  await page.waitForFunction("document.querySelector('[data-testid=save-state]')?.textContent === 'All changes saved'", undefined, { timeout: 15_000 });
}

const projectId = () => /#\/p\/(.+)$/.exec(page.url())![1];

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startStudioServer();
  browser = await launchChromium();
  page = await openStudioPage(browser.context, pageErrors);
}, 600_000); // a first start builds the studio: slow on a busy machine

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('the comic studio in chromium', { timeout: 600_000 }, () => {
  it('creates a comic with a 3-panel page and a speech bubble, and keeps it across a reload', async () => {
    await page.goto(server.url);
    await page.waitForSelector('[data-testid=new-title]');
    await shot('01-projects-empty');
    await page.fill('[data-testid=new-title]', 'Night Market');
    await page.click('[data-testid=create]');
    await page.waitForSelector('[data-testid=add-page]');
    await page.selectOption('[data-testid=new-page-layout]', '3');
    await page.click('[data-testid=add-page]');
    await page.waitForSelector('[data-testid=page-canvas] canvas');
    await shot('02-three-panel-page');

    await page.click('[data-testid=add-bubble-oval]');
    await page.fill('[data-testid=bubble-text]', TEXT);
    await waitSaved();
    const c = await stored(projectId());
    expect(c.pages).toHaveLength(1);
    expect(c.pages[0].panels).toHaveLength(3);
    expect(c.pages[0].bubbles.map((b) => [b.kind, b.text])).toEqual([['oval', TEXT]]);

    // Drag the tail tip to a new speaker position.
    const b = c.pages[0].bubbles[0];
    const from = await toScreen(b.tail!.x, b.tail!.y);
    const to = await toScreen(b.tail!.x + 30, b.tail!.y + 25);
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 4 });
    await page.mouse.move(to.x, to.y, { steps: 4 });
    await page.mouse.up();
    await waitSaved();
    const tail = (await stored(projectId())).pages[0].bubbles[0].tail!;
    expect(tail.x).toBeCloseTo(b.tail!.x + 30, 0);
    expect(tail.y).toBeCloseTo(b.tail!.y + 25, 0);
    await shot('03-bubble-with-text-and-tail');

    await page.reload();
    await page.waitForSelector('[data-testid=page-canvas] canvas');
    const bubble = (await stored(projectId())).pages[0].bubbles[0];
    const centre = await toScreen(bubble.x + bubble.w / 2, bubble.y + bubble.h / 2);
    await page.mouse.click(centre.x, centre.y);
    await expect.poll(() => page.inputValue('[data-testid=bubble-text]')).toBe(TEXT);
    await shot('04-after-reload-bubble-selected');
  });

  it('undoes and redoes an edit, and swaps two panels by dropping one on the other', async () => {
    await page.fill('[data-testid=bubble-text]', 'Changed my mind');
    await page.click('[data-testid=page-canvas] canvas', { position: { x: 5, y: 5 } }); // leave the text field
    await page.click('[data-testid=undo]');
    await waitSaved();
    expect((await stored(projectId())).pages[0].bubbles[0].text).toBe(TEXT);
    await page.click('[data-testid=redo]');
    await waitSaved();
    expect((await stored(projectId())).pages[0].bubbles[0].text).toBe('Changed my mind');
    await page.click('[data-testid=undo]');
    await waitSaved();

    const before = (await stored(projectId())).pages[0].panels;
    const [p1, , p3] = before;
    const from = await toScreen(p1.x + p1.w * 0.8, p1.y + p1.h * 0.8);
    const to = await toScreen(p3.x + p3.w * 0.8, p3.y + p3.h * 0.8);
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move(from.x, (from.y + to.y) / 2, { steps: 5 });
    await page.mouse.move(to.x, to.y, { steps: 5 });
    await page.mouse.up();
    await waitSaved();
    const after = (await stored(projectId())).pages[0].panels;
    expect(after.map((p) => p.id)).toEqual([p3.id, before[1].id, p1.id]);
    expect(after[2]).toMatchObject({ x: p3.x, y: p3.y });
    await shot('05-panels-swapped');

    // Resize the dropped panel (still selected) by its bottom-right handle.
    const moved = after[2];
    const corner = await toScreen(moved.x + moved.w, moved.y + moved.h);
    const target = await toScreen(moved.x + moved.w - 30, moved.y + moved.h - 12);
    await page.mouse.move(corner.x, corner.y);
    await page.mouse.down();
    await page.mouse.move(target.x, target.y, { steps: 6 });
    await page.mouse.up();
    await waitSaved();
    const resized = (await stored(projectId())).pages[0];
    expect(resized.layout.template).toBe('custom');
    expect(resized.panels[2].w).toBeCloseTo(moved.w - 30, 0);
    expect(resized.panels[2].h).toBeCloseTo(moved.h - 12, 0);
    expect({ x: resized.panels[2].x, y: resized.panels[2].y }).toEqual({ x: moved.x, y: moved.y });
    await shot('05b-panel-resized');
  });

  it('exports the comic as a PDF that renders, with the bubble text as real text', async () => {
    await page.click('[data-testid=export-menu]');
    await shot('06-export-menu');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-pdf]')]);
    const pdfPath = join(SHOTS, 'night-market.pdf');
    await dl.saveAs(pdfPath);
    const text = execFileSync('pdftotext', [pdfPath, '-']).toString().replace(/\s+/g, ' ');
    expect(text).toContain(TEXT);
    execFileSync('pdftoppm', ['-r', '50', '-png', '-singlefile', pdfPath, join(SHOTS, '07-pdf-page')]);
    const { data, info } = await sharp(join(SHOTS, '07-pdf-page.png')).greyscale().raw().toBuffer({ resolveWithObject: true });
    // A4 at 50 dpi, white paper with dark panel borders and text.
    expect(Math.abs(info.width - 413.4)).toBeLessThan(1);
    expect(Math.abs(info.height - 584.6)).toBeLessThan(1);
    const dark = data.filter((v) => v < 80).length / data.length;
    expect(dark).toBeGreaterThan(0.01);
    expect(dark).toBeLessThan(0.2);
    await expect.poll(() => page.textContent('[data-testid=toast]')).toMatch(/exported as PDF/);
  });

  it('exports the page as a 300 dpi PNG that says so', async () => {
    await page.click('[data-testid=export-menu]');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-png]')]);
    const path = join(SHOTS, 'night-market-page-1.png');
    await dl.saveAs(path);
    const meta = await sharp(path).metadata();
    expect([meta.width, meta.height, meta.density]).toEqual([2480, 3508, 300]);
    expect(readFileSync(path).includes(Buffer.from('inkflow studio'))).toBe(true);
  });

  it('adds a webtoon strip with every bubble kind and exports all pages as one long PNG', async () => {
    await page.selectOption('[data-testid=new-page-size]', 'webtoon');
    await page.click('[data-testid=add-page]');
    await page.waitForSelector('[data-testid=page-2]');
    const kinds = ['oval', 'cloud', 'shout', 'rectangle', 'caption'] as const;
    for (const [i, kind] of kinds.entries()) {
      await page.click(`[data-testid=add-bubble-${kind}]`);
      await page.fill('[data-testid=bubble-text]', `${kind} text ${i + 1}`);
      await waitSaved();
      // The new bubble is on top: drag it down the strip, zig-zagging, so all five can be seen.
      const b = (await stored(projectId())).pages[1].bubbles[i];
      const from = await toScreen(b.x + b.w / 2, b.y + b.h / 2);
      const to = await toScreen(b.x + b.w / 2 + (i % 2 ? 18 : -18), b.y + b.h / 2 + i * 26);
      await page.mouse.move(from.x, from.y);
      await page.mouse.down();
      await page.mouse.move(to.x, to.y, { steps: 6 });
      await page.mouse.up();
      await waitSaved();
      const after = (await stored(projectId())).pages[1].bubbles[i];
      expect(after.y - b.y).toBeCloseTo(i * 26, 0);
      if (b.tail) expect(after.tail!.y - b.tail.y).toBeCloseTo(i * 26, 0); // the tail comes along
    }
    const c = await stored(projectId());
    expect(c.pages[1].size).toMatchObject({ preset: 'webtoon', width: 100, height: 600 });
    expect(c.pages[1].bubbles.map((b) => b.kind)).toEqual([...kinds]);
    await page.click('[data-testid=page-canvas] canvas', { position: { x: 5, y: 5 } });
    await shot('06a-webtoon-bubble-kinds');

    await page.click('[data-testid=export-menu]');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-webtoon]')]);
    const path = join(SHOTS, 'night-market-webtoon.png');
    await dl.saveAs(path);
    const meta = await sharp(path).metadata();
    // 800 px wide: the A4 page is 800 × 1131, the strip 800 × 4800.
    expect([meta.width, meta.height]).toEqual([800, 1131 + 4800]);
    await sharp(path).resize({ height: 900 }).toFile(join(SHOTS, '06b-webtoon-export-small.png'));
    await page.click('[data-testid=page-1]');
  });

  it('explains a bad comic file and a damaged stored comic instead of showing a blank page', async () => {
    await page.goto(`${server.url}/#/`);
    const bad = join(SHOTS, 'not-a-comic.json');
    writeFileSync(bad, JSON.stringify({ format: 'inkflow-comic', version: 1, id: 'x', title: 'Broken', pages: [{ id: 'p' }], characters: [] }));
    await page.setInputFiles('[data-testid=import-file]', bad);
    await page.waitForSelector('[data-testid=list-error]');
    expect(await page.textContent('[data-testid=list-error]')).toMatch(/cannot be opened.*page 1, /s);
    await shot('08-bad-file-explained');

    const list = (await (await fetch(`${server.url}/studio/projects`)).json()) as { projects: { id: string }[] };
    const victim = list.projects[0].id;
    server.db.prepare('UPDATE studio_projects SET doc = ? WHERE id = ?').run('{"format":"inkflow-comic","version":1,"pages":7}', victim);
    await page.goto(`${server.url}/#/p/${victim}`);
    await page.waitForSelector('[data-testid=open-error]');
    const words = await page.textContent('[data-testid=open-error]');
    expect(words).toMatch(/could not be opened/);
    expect(words).toMatch(/damaged/);
    expect(words).toMatch(/download the stored file/);
    await shot('09-damaged-project-explained');
    expect(pageErrors).toEqual([]);
  });
});
