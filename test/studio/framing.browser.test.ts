// The studio in chromium against a real server: a picture moved (drag) and zoomed (wheel, slider) inside
// its panel, clipped to it, stored and exported as the editor shows it; a page with slanted gutters whose
// borders and clipping follow the slanted outlines in the PNG and the PDF; Japanese bubble text written
// into the PDF as real text in the server's CJK font (subset); several chosen pages exported as PNGs at
// once. Screenshots go to out/studio/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { PDFDict, PDFDocument, PDFName, PDFRawStream } from 'pdf-lib';
import type { Download, Page as BrowserPage } from 'playwright-core';
import { startStudioServer } from './studioServer.ts';
import type { StudioServer } from './studioServer.ts';
import { launchChromium, openStudioPage, pageToScreen } from './browser.ts';
import type { Comic, Panel } from '../../src/web/project/schema.ts';
import { frameToImage, NO_FRAMING } from '../../src/web/render/imageFit.ts';
import type { FramingLike } from '../../src/web/render/imageFit.ts';

const SHOTS = join(import.meta.dirname, '../../out/studio');
const EXAMPLES = join(import.meta.dirname, '../../examples');
const JAPANESE = 'こんにちは、世界！';
const DPI = 150;

let server: StudioServer;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let page: BrowserPage;
const pageErrors: string[] = [];

const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`) });

const toScreen = (xMm: number, yMm: number) => pageToScreen(page, xMm, yMm);

const projectId = () => /#\/p\/(.+)$/.exec(page.url())![1];
async function stored(): Promise<Comic> {
  return ((await (await fetch(`${server.url}/studio/projects/${projectId()}`)).json()) as { comic: Comic }).comic;
}
const waitSaved = () => page.waitForFunction("document.querySelector('[data-testid=save-state]')?.textContent === 'All changes saved'", undefined, { timeout: 15_000 });

async function exportPng(name: string): Promise<{ data: Buffer; width: number; height: number }> {
  await page.click('[data-testid=export-menu]');
  await page.selectOption('[data-testid=export-dpi]', String(DPI));
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-png]')]);
  const path = join(SHOTS, name);
  await dl.saveAs(path);
  const { data, info } = await sharp(path).removeAlpha().greyscale().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Grey value of the export at a page point in millimetres. */
const at = (png: { data: Buffer; width: number }, xMm: number, yMm: number) => png.data[Math.round((yMm * DPI) / 25.4) * png.width + Math.round((xMm * DPI) / 25.4)];

/**
 * Where the picture's lines are: the centroid (page mm) of the dark pixels inside the panel's inner part —
 * in the export, and as predicted by placing the line art with `framing` (computed here independently,
 * by mapping every dark picture pixel into the panel). Line thickness and resampling do not move it.
 */
async function inkCentroids(png: { data: Buffer; width: number }, p: Panel, framing: FramingLike): Promise<{ got: [number, number]; want: [number, number] }> {
  const inner = (x: number, y: number) => x > p.x + 3 && x < p.x + p.w - 3 && y > p.y + 3 && y < p.y + p.h - 3;
  const { data: src, info } = await sharp(join(EXAMPLES, 'lineart.png')).greyscale().raw().toBuffer({ resolveWithObject: true });
  const place = frameToImage(p.layers[0]?.fit ?? 'cover', info.width, info.height, p.w, p.h, framing);
  const [u0, v0] = place(0, 0);
  const [u1] = place(1, 0);
  const mmPerPx = 1 / (u1 - u0);
  const want = [0, 0, 0];
  for (let v = 0; v < info.height; v++) {
    for (let u = 0; u < info.width; u++) {
      if (src[v * info.width + u] > 128) continue;
      const x = p.x + (u + 0.5 - u0) * mmPerPx;
      const y = p.y + (v + 0.5 - v0) * mmPerPx;
      if (inner(x, y)) want.splice(0, 3, want[0] + x, want[1] + y, want[2] + 1);
    }
  }
  const got = [0, 0, 0];
  const k = 25.4 / DPI;
  for (let py = Math.floor(p.y / k); py < (p.y + p.h) / k; py++) {
    for (let px = Math.floor(p.x / k); px < (p.x + p.w) / k; px++) {
      const x = (px + 0.5) * k;
      const y = (py + 0.5) * k;
      if (inner(x, y) && png.data[py * png.width + px] <= 128) got.splice(0, 3, got[0] + x, got[1] + y, got[2] + 1);
    }
  }
  return { got: [got[0] / got[2], got[1] / got[2]], want: [want[0] / want[2], want[1] / want[2]] };
}
const apart = (c: { got: [number, number]; want: [number, number] }) => Math.hypot(c.got[0] - c.want[0], c.got[1] - c.want[1]);

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

describe('pictures framed in their panels, slanted panels, CJK text in the PDF, several pages as PNG', { timeout: 600_000 }, () => {
  it('drags and zooms a picture inside its panel: stored, clipped, and exported where the editor shows it', async () => {
    await page.goto(server.url);
    await page.fill('[data-testid=new-title]', 'Framing');
    await page.click('[data-testid=create]');
    await page.waitForSelector('[data-testid=add-page]');
    await page.selectOption('[data-testid=new-page-layout]', '4');
    await page.click('[data-testid=add-page]');
    await page.waitForSelector('[data-testid=page-canvas] canvas');
    await waitSaved();
    const p = (await stored()).pages[0].panels[0];
    const centre = await toScreen(p.x + p.w / 2, p.y + p.h / 2);
    await page.mouse.click(centre.x, centre.y);
    await page.setInputFiles('[data-testid=add-generated]', join(EXAMPLES, 'lineart.png'));
    await page.waitForSelector('[data-testid=layer-generated]');
    await waitSaved();
    const plain = await exportPng('framing-before.png');
    const q = (await stored()).pages[0].panels[0];
    expect(q.layers[0].fit).toBe('contain'); // an added picture is shown whole
    expect(apart(await inkCentroids(plain, q, NO_FRAMING))).toBeLessThan(1);

    // Drag moves the picture (not the panel) while framing is on.
    await page.click('[data-testid=frame-picture]');
    const from = await toScreen(p.x + p.w / 2, p.y + p.h / 2);
    const to = await toScreen(p.x + p.w / 2 + 20, p.y + p.h / 2 + 10);
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move(to.x, to.y, { steps: 6 });
    await page.mouse.up();
    await waitSaved();
    let now = (await stored()).pages[0].panels[0];
    expect({ x: now.x, y: now.y, w: now.w, h: now.h }).toEqual({ x: p.x, y: p.y, w: p.w, h: p.h });
    expect(now.framing!.zoom).toBe(1);
    expect(now.framing!.x).toBeCloseTo(20, 0);
    expect(now.framing!.y).toBeCloseTo(10, 0);

    // The wheel zooms about the pointer: the picture pixel under it stays under it.
    const pointer = { x: p.x + p.w * 0.3, y: p.y + p.h * 0.4 };
    const before = now.framing!;
    const s = await toScreen(pointer.x, pointer.y);
    await page.mouse.move(s.x, s.y);
    await page.mouse.wheel(0, -300);
    await waitSaved();
    now = (await stored()).pages[0].panels[0];
    expect(now.framing!.zoom).toBeGreaterThan(1.3);
    const [u0, v0] = frameToImage('contain', 512, 512, p.w, p.h, before)(pointer.x - p.x, pointer.y - p.y);
    const [u1, v1] = frameToImage('contain', 512, 512, p.w, p.h, now.framing!)(pointer.x - p.x, pointer.y - p.y);
    expect(Math.hypot(u1 - u0, v1 - v0)).toBeLessThan(3);

    // The slider zooms too (one keyboard step = 0.05).
    const zoomed = now.framing!.zoom;
    await page.focus('[data-testid=picture-zoom]');
    await page.keyboard.press('ArrowRight');
    await waitSaved();
    now = (await stored()).pages[0].panels[0];
    expect(now.framing!.zoom).toBeCloseTo(Math.round((zoomed + 0.05) * 20) / 20, 2);
    await page.click('[data-testid=frame-picture]'); // done
    await shot('30-picture-moved-and-zoomed');

    // Reload: kept. Export: the picture sits as framed, clipped to the panel (the gutter stays paper).
    await page.reload();
    await page.waitForSelector('[data-testid=page-canvas] canvas');
    expect((await stored()).pages[0].panels[0].framing).toEqual(now.framing);
    const framed = await exportPng('framing-after.png');
    const fit = apart(await inkCentroids(framed, now, now.framing!));
    const unframed = apart(await inkCentroids(framed, now, NO_FRAMING));
    console.log(`framed export: lines' centroid ${fit.toFixed(2)} mm from the framed placement (${unframed.toFixed(2)} mm from the unframed one)`);
    expect(fit).toBeLessThan(1);
    expect(unframed).toBeGreaterThan(5);
    const right = (await stored()).pages[0].panels[1];
    for (let y = p.y + 2; y < p.y + p.h - 2; y += 2) expect(at(framed, (p.x + p.w + right.x) / 2, y)).toBeGreaterThan(250); // the gutter
    expect(pageErrors).toEqual([]);
  });

  it('slants the gutters: outlines stored, borders and clipping follow them in the PNG and the PDF', async () => {
    await page.click('[data-testid=page-canvas] canvas', { position: { x: 5, y: 5 } }); // the page inspector
    await page.focus('[data-testid=slant]');
    for (let i = 0; i < 8; i++) await page.keyboard.press('ArrowRight');
    await waitSaved();
    const c = await stored();
    expect(c.pages[0].layout.slant).toBe(8);
    const panels = c.pages[0].panels;
    expect(panels.every((pn) => pn.outline?.length === 8)).toBe(true);
    expect(panels[0].framing).toBeDefined(); // the picture kept its framing
    await shot('31-slanted-gutters');

    // Panel 1's right edge and panel 2's left edge (page mm) at the top and at the bottom of the row.
    const corner = (pn: Panel, k: number) => [pn.x + pn.outline![2 * k], pn.y + pn.outline![2 * k + 1]];
    const [tr, br] = [corner(panels[0], 1), corner(panels[0], 2)];
    const [tl2, bl2] = [corner(panels[1], 0), corner(panels[1], 3)];
    expect(Math.abs(tr[0] - br[0])).toBeGreaterThan(7); // it leans…
    expect(tl2[0] - tr[0]).toBeCloseTo(bl2[0] - br[0], 1); // …and the gutter is as wide at both ends
    const png = await exportPng('slanted.png');
    // The border runs along the slanted edge (dark), the gutter between the edges is paper (white), at both ends.
    for (const [edge, next, dy] of [[tr, tl2, 3], [br, bl2, -3]] as const) {
      const y = edge[1] + dy;
      const t = dy / (br[1] - tr[1]);
      const xEdge = edge[0] + (br[0] - tr[0]) * t;
      const xNext = next[0] + (bl2[0] - tl2[0]) * t;
      expect(at(png, xEdge - 0.2, y)).toBeLessThan(100);
      expect(at(png, (xEdge + xNext) / 2, y)).toBeGreaterThan(250);
      expect(at(png, xNext + 0.2, y)).toBeLessThan(100);
    }

    // The PDF draws the same page.
    await page.click('[data-testid=export-menu]');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-pdf]')]);
    const pdfPath = join(SHOTS, 'slanted.pdf');
    await dl.saveAs(pdfPath);
    execFileSync('pdftoppm', ['-r', String(DPI), '-png', '-singlefile', pdfPath, join(SHOTS, '32-slanted-pdf')]);
    const { data, info } = await sharp(join(SHOTS, '32-slanted-pdf.png')).greyscale().raw().toBuffer({ resolveWithObject: true });
    // pdftoppm rounds the page up a pixel; compare the common part pixel by pixel.
    expect(Math.abs(info.width - png.width)).toBeLessThanOrEqual(1);
    const rows = Math.min(info.height, png.data.length / png.width);
    let same = 0;
    for (let y = 0; y < rows; y++) for (let x = 0; x < png.width; x++) if (Math.abs(data[y * info.width + x] - png.data[y * png.width + x]) < 40) same++;
    expect(same / (rows * png.width)).toBeGreaterThan(0.97);
  });

  it('writes Japanese bubble text into the PDF as real text in an embedded subset font', async () => {
    await page.click('[data-testid=add-bubble-oval]');
    await page.fill('[data-testid=bubble-text]', JAPANESE);
    await waitSaved();
    await page.click('[data-testid=page-canvas] canvas', { position: { x: 5, y: 5 } });
    await shot('33-japanese-bubble');
    await page.click('[data-testid=export-menu]');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-pdf]')]);
    const pdfPath = join(SHOTS, 'japanese.pdf');
    await dl.saveAs(pdfPath);
    // The bubble wraps the line; the characters are all there as text.
    expect(execFileSync('pdftotext', [pdfPath, '-']).toString().replace(/\s+/g, '')).toContain(JAPANESE);
    const fonts = execFileSync('pdffonts', [pdfPath]).toString();
    expect(fonts).toMatch(/WenQuanYi\S*\s+CID TrueType\s+Identity-H\s+yes/);
    // The whole font file is 16.8 MB; the embedded subset holds only the glyphs the bubble uses.
    const doc = await PDFDocument.load(readFileSync(pdfPath));
    const fontFiles = doc.context
      .enumerateIndirectObjects()
      .flatMap(([, o]) => (o instanceof PDFDict && o.get(PDFName.of('Type')) === PDFName.of('FontDescriptor') ? [o.get(PDFName.of('FontFile2'))] : []))
      .map((ref) => (doc.context.lookup(ref) as PDFRawStream).getContents().length);
    console.log(`PDF with the Japanese bubble: ${statSync(pdfPath).size} bytes; embedded font file: ${fontFiles.join(', ')} bytes`);
    expect(fontFiles).toHaveLength(1);
    expect(fontFiles[0]).toBeLessThan(100_000);
    await expect.poll(() => page.textContent('[data-testid=toast]')).toMatch(/1 bubble\(s\) in the embedded Japanese\/Chinese\/Korean font/);
    execFileSync('pdftoppm', ['-r', '60', '-png', '-singlefile', pdfPath, join(SHOTS, '34-japanese-pdf')]);
  });

  it('exports several chosen pages as PNGs at once, one file per page', async () => {
    await page.selectOption('[data-testid=new-page-layout]', '2');
    await page.click('[data-testid=add-page]');
    await page.waitForSelector('[data-testid=page-2]');
    await page.click('[data-testid=add-page]');
    await page.waitForSelector('[data-testid=page-3]');
    await waitSaved();
    await page.click('[data-testid=export-menu]');
    // The current page (3) is chosen; add page 1, leave page 2 out.
    expect(await page.isChecked('[data-testid=png-page-3]')).toBe(true);
    await page.check('[data-testid=png-page-1]');
    expect(await page.isChecked('[data-testid=png-page-2]')).toBe(false);
    await shot('35-several-pages-chosen');
    const downloads: Download[] = [];
    page.on('download', (d) => void downloads.push(d));
    await page.click('[data-testid=export-pngs]');
    await expect.poll(() => page.textContent('[data-testid=toast]'), { timeout: 60_000 }).toMatch(/2 pages exported as PNG at \d+ dpi \(pages 1, 3\)/);
    expect(downloads.map((d) => d.suggestedFilename()).sort()).toEqual(['Framing-page-1.png', 'Framing-page-3.png']);
    for (const d of downloads) {
      const path = join(SHOTS, `several-${d.suggestedFilename()}`);
      await d.saveAs(path);
      const meta = await sharp(path).metadata();
      expect([meta.width, meta.height]).toEqual([Math.round((210 * meta.density!) / 25.4), Math.round((297 * meta.density!) / 25.4)]);
      expect(readFileSync(path).includes(Buffer.from(`"page":${d.suggestedFilename().includes('1') ? 1 : 3}`))).toBe(true);
    }
    expect(pageErrors).toEqual([]);
  });

  it('on a server without a CJK font, draws the Japanese text as pixels and says why', async () => {
    const bare = await startStudioServer({ cjkFonts: [] });
    try {
      await page.goto(bare.url);
      await page.fill('[data-testid=new-title]', 'No font');
      await page.click('[data-testid=create]');
      await page.waitForSelector('[data-testid=add-page]');
      await page.selectOption('[data-testid=new-page-layout]', '1');
      await page.click('[data-testid=add-page]');
      await page.waitForSelector('[data-testid=page-canvas] canvas');
      await page.click('[data-testid=add-bubble-oval]');
      await page.fill('[data-testid=bubble-text]', JAPANESE);
      await page.waitForFunction("document.querySelector('[data-testid=save-state]')?.textContent === 'All changes saved'");
      await page.click('[data-testid=export-menu]');
      const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-pdf]')]);
      const pdfPath = join(SHOTS, 'no-font.pdf');
      await dl.saveAs(pdfPath);
      await expect
        .poll(() => page.textContent('[data-testid=toast]'))
        .toMatch(/1 bubble\(s\) were drawn as pixels instead of text: no font for Japanese, Chinese or Korean text is installed on the server \(on Debian: apt-get install fonts-wqy-zenhei\)/);
      await shot('36-no-cjk-font-said-so');
      expect(execFileSync('pdftotext', [pdfPath, '-']).toString()).not.toMatch(/こんにちは/);
      // …but the text is in the picture: the bubble holds dark pixels besides its outline.
      const c = ((await (await fetch(`${bare.url}/studio/projects/${projectId()}`)).json()) as { comic: Comic }).comic;
      const b = c.pages[0].bubbles[0];
      execFileSync('pdftoppm', ['-r', String(DPI), '-png', '-singlefile', pdfPath, join(SHOTS, '37-no-font-pdf')]);
      const { data, info } = await sharp(join(SHOTS, '37-no-font-pdf.png')).greyscale().raw().toBuffer({ resolveWithObject: true });
      let dark = 0;
      let n = 0;
      for (let y = b.y + b.h * 0.3; y < b.y + b.h * 0.7; y += 0.2) for (let x = b.x + b.w * 0.2; x < b.x + b.w * 0.8; x += 0.2, n++) if (at({ data, width: info.width }, x, y) < 128) dark++;
      expect(dark / n).toBeGreaterThan(0.02);
    } finally {
      await bare.close();
    }
  });
});
