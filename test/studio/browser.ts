// Debian's chromium driven by playwright-core: headless, no sandbox, nothing phoning home, and a fresh
// profile (user data dir) per launch so runs cannot see each other's storage.
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'inkflow-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1400, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * A new page with generous waits (the machine may be shared and busy: nothing in the browser tests
 * measures speed) whose uncaught page errors are collected in `errors`, for a test to assert empty.
 */
export async function openStudioPage(context: BrowserContext, errors: string[]): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(120_000);
  page.setDefaultNavigationTimeout(120_000);
  page.on('pageerror', (e) => errors.push(e.message));
  return page;
}

/** Screen pixels of a point given in millimetres on the editor's page canvas (for mouse clicks). */
export async function pageToScreen(page: Page, xMm: number, yMm: number): Promise<{ x: number; y: number }> {
  return page.$eval(
    '[data-testid=page-canvas]',
    (el, [x, y]) => {
      const r = el.getBoundingClientRect();
      const s = Number(el.getAttribute('data-scale'));
      return { x: r.left - el.scrollLeft + Number(el.getAttribute('data-origin-x')) + x * s, y: r.top - el.scrollTop + Number(el.getAttribute('data-origin-y')) + y * s };
    },
    [xMm, yMm] as const,
  );
}

/** From the project list at `url`: a new comic called `title` with one page, open in the editor and saved. */
export async function newComicWithPage(page: Page, url: string, title: string): Promise<void> {
  await page.goto(url);
  await page.fill('[data-testid=new-title]', title);
  await page.click('[data-testid=create]');
  await page.waitForSelector('[data-testid=add-page]');
  await page.click('[data-testid=add-page]');
  await page.waitForSelector('[data-testid=page-canvas] canvas');
  await page.waitForFunction("document.querySelector('[data-testid=save-state]')?.textContent === 'All changes saved'");
}
