// The panel tools in chromium against a real `inkflow serve` (ComfyUI API, in-process runner) and the
// studio plugin, joined on one origin by the test proxy: what the studio says when no model is installed,
// and the server's refusal of a missing checkpoint in words. Screenshots go to out/studio/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page as BrowserPage } from 'playwright-core';
import { startStudioServer } from './studioServer.ts';
import type { StudioServer } from './studioServer.ts';
import { startFrontProxy } from './frontProxy.ts';
import { launchChromium } from './browser.ts';
import { startServer } from '../../src/server/startServer.ts';
import type { RunningServer } from '../../src/server/startServer.ts';
import { inkflowWorkflow } from '../../src/server/inkflowWorkflow.ts';
import { textToPanel } from '../../src/web/workflows/panelWorkflows.ts';
import { explainPromptError } from '../../src/web/workflows/promptErrors.ts';

const SHOTS = join(import.meta.dirname, '../../out/studio');

let studio: StudioServer;
let api: RunningServer;
let apiData: string;
let front: Awaited<ReturnType<typeof startFrontProxy>>;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let page: BrowserPage;
const pageErrors: string[] = [];

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  studio = await startStudioServer();
  apiData = mkdtempSync(join(tmpdir(), 'inkflow-api-'));
  api = await startServer({ dataDir: apiData, workflow: inkflowWorkflow, port: 0 });
  front = await startFrontProxy(studio.url, api.url);
  browser = await launchChromium();
  page = await browser.context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
});

afterAll(async () => {
  await browser?.close();
  await front?.close();
  await api?.close();
  await studio?.close();
  rmSync(apiData, { recursive: true, force: true });
});

describe('panel tools against a real inkflow server without models', () => {
  it('the Models page says nothing is installed, where files go, and what still works', async () => {
    await page.goto(`${front.url}/#/models`);
    await page.waitForSelector('[data-testid=no-models]');
    const text = await page.textContent('[data-testid=models-page]');
    expect(text).toMatch(/No models are installed yet/);
    expect(text).toMatch(/models\/checkpoints\//);
    expect(text).toMatch(/flat colouriser, which needs no model/);
    await page.screenshot({ path: join(SHOTS, '10-models-none-installed.png') });
  });

  it('a panel says a checkpoint is needed, and where to put it, instead of offering a button that fails', async () => {
    await page.goto(front.url);
    await page.fill('[data-testid=new-title]', 'No models');
    await page.click('[data-testid=create]');
    await page.waitForSelector('[data-testid=add-page]');
    await page.click('[data-testid=add-page]');
    await page.waitForSelector('[data-testid=page-canvas] canvas');
    const at = await page.$eval('[data-testid=page-canvas]', (el) => {
      const r = el.getBoundingClientRect();
      return { x: r.left + Number(el.getAttribute('data-origin-x')) + 100 * Number(el.getAttribute('data-scale')), y: r.top + Number(el.getAttribute('data-origin-y')) + 50 * Number(el.getAttribute('data-scale')) };
    });
    await page.mouse.click(at.x, at.y);
    await page.waitForSelector('[data-testid=no-checkpoint]');
    expect(await page.textContent('[data-testid=no-checkpoint]')).toMatch(/No checkpoint is installed: put a \.safetensors file in models\/checkpoints/);
    expect(await page.isDisabled('[data-testid=text-to-panel]')).toBe(true);
    await page.screenshot({ path: join(SHOTS, '11-panel-tools-no-checkpoint.png') });
    expect(pageErrors).toEqual([]);
  });

  it('the real server\'s refusal of a text → panel workflow without its checkpoint is said in words', async () => {
    const prompt = textToPanel({ checkpoint: 'sd15.safetensors', positive: 'a cat', negative: '', width: 64, height: 64, seed: 1, steps: 2, cfg: 7, sampler: 'euler', scheduler: 'normal', loras: [], batch: 1 });
    const res = await fetch(`${front.url}/prompt`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt }) });
    expect(res.status).toBe(400);
    const words = explainPromptError(await res.json());
    // With the generation nodes: the missing file; without them (an older server): the missing tool.
    expect(words).toMatch(/the checkpoint "sd15\.safetensors" is not installed: put it in models\/checkpoints|does not have a tool this needs/);
  });
});
