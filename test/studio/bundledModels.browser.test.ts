// The repository's bundled models (models/default/*) in the studio, against a real server as `inkflow
// serve` runs it with an empty data folder: the Models page lists them as "default (bundled)" entries, the
// panel's choosers offer and pick them, and a text → panel with the bundled tiny model runs through the
// server (which resolves the name to models/default/t2i — nothing was copied into the data folder).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page as BrowserPage } from 'playwright-core';
import { launchChromium, newComicWithPage, openStudioPage, pageToScreen } from './browser.ts';
import { startServer, type RunningServer } from '../../src/server/startServer.ts';
import { inkflowWorkflow } from '../../src/server/inkflowWorkflow.ts';
import type { Comic } from '../../src/web/project/schema.ts';
import { panelPixels } from '../../src/web/workflows/panelWorkflows.ts';

const SHOTS = join(import.meta.dirname, '../../out/studio');

let api: RunningServer;
let data: string;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let page: BrowserPage;
const pageErrors: string[] = [];

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  data = mkdtempSync(join(tmpdir(), 'inkflow-bundled-'));
  api = await startServer({ dataDir: data, workflow: inkflowWorkflow, port: 0, studio: true });
  browser = await launchChromium();
  page = await openStudioPage(browser.context, pageErrors);
}, 600_000); // a first start builds the studio: slow on a busy machine

afterAll(async () => {
  await browser?.close();
  await api?.close();
  rmSync(data, { recursive: true, force: true });
});

const projectId = () => /#\/p\/(.+)$/.exec(page.url())![1];
async function stored(): Promise<Comic> {
  return ((await (await fetch(`${api.url}/studio/projects/${projectId()}`)).json()) as { comic: Comic }).comic;
}

describe('the bundled default models in the studio', { timeout: 600_000 }, () => {
  it('the server lists them after the (empty) folders, and the Models page says what they are', async () => {
    for (const kind of ['checkpoints', 'colorize', 'vae']) {
      expect(readdirSync(join(data, 'models', kind)), kind).toEqual([]);
      expect(await (await fetch(`${api.url}/models/${kind}`)).json(), kind).toEqual(['default (bundled)']);
    }
    expect(await (await fetch(`${api.url}/models/loras`)).json()).toEqual([]);
    await page.goto(`${api.url}/#/models`);
    await page.waitForSelector('[data-testid=bundled-checkpoints]');
    expect(await page.textContent('[data-testid=bundled-checkpoints]')).toMatch(/^default \(bundled\) — inkflow's tiny demo model, shipped with it: 128×128 .*nothing to copy$/);
    expect(await page.textContent('[data-testid=bundled-colorize]')).toMatch(/^default \(bundled\) — inkflow's tiny reference colouring model/);
    expect(await page.$('[data-testid=no-models]')).toBeNull();
    await page.screenshot({ path: join(SHOTS, '30-models-bundled.png') });
  });

  it('a panel picks the bundled model and its size, and generates with it through the server', async () => {
    await newComicWithPage(page, api.url, 'Bundled');
    const p = (await stored()).pages[0].panels[0];
    const at = await pageToScreen(page, p.x + p.w * 0.9, p.y + p.h * 0.9);
    await page.mouse.click(at.x, at.y);
    await page.waitForSelector('[data-testid=panel-tools]');
    // The only checkpoint is picked, with the size the tiny model draws at.
    await page.waitForSelector('[data-testid=bundled-checkpoint-hint]');
    expect(await page.$$eval('[data-testid=checkpoint] option', (os: { textContent: string | null }[]) => os.map((o) => o.textContent))).toEqual(['default (bundled)']);
    expect(await page.inputValue('[data-testid=checkpoint]')).toBe('default (bundled)');
    expect(await page.inputValue('[data-testid=long-side]')).toBe('128');
    expect(await page.textContent('[data-testid=bundled-checkpoint-hint]')).toMatch(/tag prompts such as "red hair, blue shirt, green pants, arms up"/);
    // The colouring chooser offers the bundled SDRO model too.
    expect(await page.inputValue('[data-testid=colour-model-select]')).toBe('default (bundled)');
    await page.waitForSelector('[data-testid=bundled-colour-model-hint]');

    await page.fill('[data-testid=panel-prompt]', 'red hair, blue shirt, green pants, short hair, arms up');
    await page.fill('[data-testid=steps]', '3');
    await page.click('[data-testid=text-to-panel]');
    await page.waitForFunction("/^(done|failed|cancelled)/.test(document.querySelector('[data-testid=job-status]')?.textContent ?? '')", undefined, { timeout: 120_000 });
    expect(await page.textContent('[data-testid=job-status]')).toMatch(/^done/);
    await page.waitForFunction("document.querySelector('[data-testid=save-state]')?.textContent === 'All changes saved'");
    const layers = (await stored()).pages[0].panels[0].layers;
    expect(layers.map((l) => l.kind)).toEqual(['generated']);
    const wf = layers[0].workflow as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
    expect(wf.ckpt.inputs.ckpt_name).toBe('default (bundled)');
    // The panel's shape at a long side of 128 (its short side held at the studio's minimum of 64).
    const want = panelPixels(p, 128);
    expect(Object.values(wf).filter((n) => n.class_type === 'EmptyLatentImage').map((n) => [n.inputs.width, n.inputs.height])).toEqual([[want.width, want.height]]);
    expect(Math.min(want.width, want.height)).toBeLessThanOrEqual(128);
    expect(readdirSync(join(data, 'models', 'checkpoints'))).toEqual([]);
    await page.screenshot({ path: join(SHOTS, '31-panel-bundled-model.png') });
    expect(pageErrors).toEqual([]);
  });
});
