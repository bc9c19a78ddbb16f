// The panel tools in chromium against a real server as `inkflow serve` runs it (ComfyUI API, in-process
// runner, the studio mounted on the same origin): what the studio says when no model is installed,
// the server's refusal of a missing checkpoint in words; then, with the tiny checkpoint and ControlNet
// installed, a drawn sketch generated into a panel with visible progress and previews, a line-art panel
// coloured from a character sheet by the flat colouriser, a node failure in words, and a cancelled job.
// Screenshots go to out/studio/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import sharp from 'sharp';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page as BrowserPage } from 'playwright-core';
import { launchChromium, openStudioPage, pageToScreen } from './browser.ts';
import { startServer } from '../../src/server/startServer.ts';
import type { RunningServer } from '../../src/server/startServer.ts';
import { inkflowWorkflow } from '../../src/server/inkflowWorkflow.ts';
import { textToPanel } from '../../src/web/workflows/panelWorkflows.ts';
import { explainPromptError } from '../../src/web/workflows/promptErrors.ts';
import { TINY_CONTROLNET, TINY_T2I_ADAPTER, writeTinyDiffusersCheckpoint } from '../../src/pipelines/generate/tinyCheckpoint.ts';
import { writeTinyColorizeCheckpoint } from '../../src/models/splitAttention/tinyColorizeCheckpoint.ts';
import type { Comic } from '../../src/web/project/schema.ts';
import { readTextChunks } from '../../src/web/render/png.ts';

const SHOTS = join(import.meta.dirname, '../../out/studio');
const EXAMPLES = join(import.meta.dirname, '../../examples');

let api: RunningServer;
let apiData: string;
let front: { url: string };
let browser: Awaited<ReturnType<typeof launchChromium>>;
let page: BrowserPage;
const pageErrors: string[] = [];

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  apiData = mkdtempSync(join(tmpdir(), 'inkflow-api-'));
  // The real server with the studio mounted, as `inkflow serve` runs it: app, project API and ComfyUI API on one origin.
  // Without the bundled default models, so the studio's words for an installation with no model at all are seen.
  api = await startServer({ dataDir: apiData, workflow: inkflowWorkflow, port: 0, studio: true, bundledModels: false });
  front = { url: api.url };
  browser = await launchChromium();
  page = await openStudioPage(browser.context, pageErrors);
}, 600_000); // a first start builds the studio: slow on a busy machine

afterAll(async () => {
  await browser?.close();
  await api?.close();
  rmSync(apiData, { recursive: true, force: true });
});

describe('panel tools against a real inkflow server without models', { timeout: 600_000 }, () => {
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
    expect(words).toBe('the checkpoint "sd15.safetensors" is not installed: put it in models/checkpoints');
  });
});

/** Screen position of a point in page millimetres (the canvas publishes its scale and origin). */
const toScreen = (xMm: number, yMm: number) => pageToScreen(page, xMm, yMm);

const projectId = () => /#\/p\/(.+)$/.exec(page.url())![1];
async function stored(): Promise<Comic> {
  return ((await (await fetch(`${front.url}/studio/projects/${projectId()}`)).json()) as { comic: Comic }).comic;
}

async function selectPanel(i: number): Promise<Comic['pages'][number]['panels'][number]> {
  const p = (await stored()).pages[0].panels[i];
  const at = await toScreen(p.x + p.w * 0.9, p.y + p.h * 0.9);
  await page.mouse.click(at.x, at.y);
  await page.waitForSelector('[data-testid=panel-tools]');
  return p;
}

/** Records every text the job status shows and whether a preview appeared, however fast the job runs. */
async function watchJob(): Promise<void> {
  await page.evaluate(`(() => {
    window.__seen = { statuses: [], preview: false, progress: false };
    const look = () => {
      const s = document.querySelector('[data-testid=job-status]')?.textContent;
      if (s && window.__seen.statuses[window.__seen.statuses.length - 1] !== s) window.__seen.statuses.push(s);
      if (document.querySelector('[data-testid=job-preview]')) window.__seen.preview = true;
      if (document.querySelector('[data-testid=job-progress]')) window.__seen.progress = true;
    };
    new MutationObserver(look).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  })()`);
}
const seen = () => page.evaluate('window.__seen') as Promise<{ statuses: string[]; preview: boolean; progress: boolean }>;
const jobEnds = () => page.waitForFunction("/^(done|failed|cancelled)/.test(document.querySelector('[data-testid=job-status]')?.textContent ?? '')", undefined, { timeout: 120_000 });

describe('panel tools with the tiny checkpoint and ControlNet installed', { timeout: 600_000 }, () => {
  beforeAll(async () => {
    await writeTinyDiffusersCheckpoint(join(apiData, 'models', 'checkpoints', 'tiny'));
    cpSync(TINY_CONTROLNET, join(apiData, 'models', 'controlnet', 'cn_tiny'), { recursive: true });
    cpSync(TINY_T2I_ADAPTER, join(apiData, 'models', 't2i_adapter', 'adapter_tiny'), { recursive: true });
    mkdirSync(join(apiData, 'models', 'colorize'), { recursive: true });
    await writeTinyColorizeCheckpoint(join(apiData, 'models', 'colorize', 'tiny-cd.safetensors'));
  }, 600_000); // a first start builds the studio: slow on a busy machine

  it('the Models page lists them', async () => {
    await page.goto(`${front.url}/#/models`);
    await page.waitForSelector('.model-folder li');
    const text = await page.textContent('[data-testid=models-page]');
    expect(text).toContain('tiny');
    expect(text).toContain('cn_tiny');
    expect(text).toContain('adapter_tiny');
    expect(text).toContain('tiny-cd.safetensors');
    expect(await page.$('[data-testid=no-models]')).toBeNull();
    await page.screenshot({ path: join(SHOTS, '12-models-installed.png') });
  });

  it('draws a sketch on a panel and generates it into the panel, showing progress and previews', async () => {
    await page.goto(front.url);
    await page.click('[data-testid=project-link]');
    await page.waitForSelector('[data-testid=page-canvas] canvas');
    const p = await selectPanel(0);
    await page.fill('[data-testid=panel-prompt]', 'a cat on a mat');
    await page.fill('[data-testid=long-side]', '64');
    await page.fill('[data-testid=steps]', '4');
    await page.click('[data-testid=draw-sketch]');
    // A face: a circle of strokes and two eyes, then one stroke taken back with undo.
    const c = { x: p.x + p.w / 2, y: p.y + p.h / 2 };
    const ring = await Promise.all(Array.from({ length: 25 }, (_, i) => toScreen(c.x + 30 * Math.cos((i / 24) * 2 * Math.PI), c.y + 30 * Math.sin((i / 24) * 2 * Math.PI))));
    await page.mouse.move(ring[0].x, ring[0].y);
    await page.mouse.down();
    for (const q of ring.slice(1)) await page.mouse.move(q.x, q.y);
    await page.mouse.up();
    for (const dx of [-10, 10]) {
      const a = await toScreen(c.x + dx, c.y - 8);
      await page.mouse.move(a.x, a.y);
      await page.mouse.down();
      await page.mouse.move(a.x + 2, a.y + 8, { steps: 3 });
      await page.mouse.up();
    }
    const stray = await toScreen(p.x + 5, p.y + 5);
    await page.mouse.move(stray.x, stray.y);
    await page.mouse.down();
    await page.mouse.move(stray.x + 40, stray.y + 10, { steps: 3 });
    await page.mouse.up();
    await page.click('[data-testid=sketch-undo]');
    await page.screenshot({ path: join(SHOTS, '13-sketch-drawn.png') });

    await watchJob();
    await page.click('[data-testid=sketch-to-panel]');
    await page.waitForSelector('[data-testid=job-progress]', { timeout: 120_000 });
    await page.screenshot({ path: join(SHOTS, '14-sketch-generating.png') });
    await jobEnds();
    const s = await seen();
    expect(s.statuses.at(-1)).toMatch(/^done/);
    expect(s.statuses).toEqual(expect.arrayContaining(['step 1 of 4', 'step 4 of 4']));
    expect(s.progress).toBe(true);
    expect(s.preview).toBe(true);
    await page.waitForFunction("document.querySelector('[data-testid=save-state]')?.textContent === 'All changes saved'");
    const layers = (await stored()).pages[0].panels[0].layers;
    expect(layers.map((l) => [l.kind, l.visible])).toEqual([['sketch', false], ['generated', true]]);
    const wf = layers[1].workflow as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
    expect(wf.apply.inputs).toMatchObject({ strength: 0.75, end_percent: 0.75 });
    expect(wf.ckpt.inputs.ckpt_name).toBe('tiny');
    // The sketch kept in the project is the drawing: dark lines on white, at the generation size.
    const sketch = Buffer.from(await (await fetch(`${front.url}/studio/projects/${projectId()}/assets/${layers[0].asset}`)).arrayBuffer());
    const { data, info } = await sharp(sketch).greyscale().raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([136, 64]); // the panel's shape, short side 64
    // The ring (about 64 px long at this size) and the eyes, at least 1.5 px wide; the undone stroke is gone.
    const dark = data.filter((v) => v < 160).length / data.length;
    expect(dark).toBeGreaterThan(0.015);
    expect(data.subarray(0, 136 * 6).every((v) => v > 200)).toBe(true);
    expect(dark).toBeLessThan(0.5);
    await page.screenshot({ path: join(SHOTS, '15-sketch-generated.png') });
  });

  it('colours a line-art panel from a character sheet with the flat colouriser', async () => {
    await page.click('[data-testid=add-character]');
    await page.setInputFiles('[data-testid=add-sheet]', join(EXAMPLES, 'character-sheet.png'));
    await page.waitForSelector('.sheets img');
    await selectPanel(1);
    await page.setInputFiles('[data-testid=add-lineart]', join(EXAMPLES, 'lineart.png'));
    await page.waitForSelector('[data-testid=layer-lineart]');
    await page.screenshot({ path: join(SHOTS, '16-lineart-and-sheet.png') });
    await watchJob();
    await page.click('[data-testid=colour-flat]');
    await jobEnds();
    expect((await seen()).statuses.at(-1)).toMatch(/^done/);
    await page.waitForFunction("document.querySelector('[data-testid=save-state]')?.textContent === 'All changes saved'");
    const c = await stored();
    expect(c.characters[0].palette.length).toBeGreaterThan(1);
    const layers = c.pages[0].panels[1].layers;
    expect(layers.map((l) => l.kind)).toEqual(['lineart', 'flat']);
    expect((layers[1].workflow as Record<string, { class_type: string }>).colour.class_type).toBe('InkflowFlatColorize');
    // The flat result is coloured with the sheet's palette: many pixels far from grey.
    const flat = Buffer.from(await (await fetch(`${front.url}/studio/projects/${projectId()}/assets/${layers[1].asset}`)).arrayBuffer());
    const { data } = await sharp(flat).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    let coloured = 0;
    for (let i = 0; i < data.length; i += 3) if (Math.max(data[i], data[i + 1], data[i + 2]) - Math.min(data[i], data[i + 1], data[i + 2]) > 60) coloured++;
    expect(coloured / (data.length / 3)).toBeGreaterThan(0.05);
    await page.screenshot({ path: join(SHOTS, '17-flat-coloured.png') });
  });

  it('says in words when the server fails a step (line art without lines)', async () => {
    await selectPanel(2);
    const blank = join(SHOTS, 'blank-lineart.png');
    writeFileSync(blank, await sharp({ create: { width: 64, height: 64, channels: 3, background: '#ffffff' } }).png().toBuffer());
    await page.setInputFiles('[data-testid=add-lineart]', blank);
    await page.waitForSelector('[data-testid=layer-lineart]');
    await page.click('[data-testid=colour-flat]');
    await jobEnds();
    const err = await page.textContent('[data-testid=job-error]');
    expect(err).toMatch(/^the InkflowFlatColorize step failed: /);
    expect(err).not.toMatch(/\n|    at /);
    await page.screenshot({ path: join(SHOTS, '18-server-error-in-words.png') });
  });

  it('cancels a running generation and the panel stays as it was', async () => {
    await page.waitForFunction("document.querySelector('[data-testid=save-state]')?.textContent === 'All changes saved'");
    const before = (await stored()).pages[0].panels[2].layers.length;
    await page.fill('[data-testid=panel-prompt]', 'a long night market street');
    await page.fill('[data-testid=long-side]', '64');
    await page.fill('[data-testid=steps]', '150');
    await page.click('[data-testid=text-to-panel]');
    await page.waitForFunction("/^step [1-9]/.test(document.querySelector('[data-testid=job-status]')?.textContent ?? '')", undefined, { timeout: 120_000 });
    // The editor stays usable while it runs: select another panel and come back.
    await selectPanel(0);
    await selectPanel(2);
    await page.click('[data-testid=job-cancel]');
    await page.waitForFunction("document.querySelector('[data-testid=job-status]')?.textContent === 'cancelled'", undefined, { timeout: 60_000 });
    await page.screenshot({ path: join(SHOTS, '19-cancelled.png') });
    await page.waitForFunction("document.querySelector('[data-testid=save-state]')?.textContent === 'All changes saved'");
    expect((await stored()).pages[0].panels[2].layers.length).toBe(before);
  });

  it('inpaints a painted part of the generated panel: two candidates side by side, the picked one replaces the picture', async () => {
    const p = await selectPanel(0);
    await page.fill('[data-testid=steps]', '3');
    const before = (await stored()).pages[0].panels[0].layers.find((l) => l.kind === 'generated')!;
    await page.click('[data-testid=paint-mask]');
    const a = await toScreen(p.x + p.w * 0.3, p.y + p.h * 0.5);
    const b = await toScreen(p.x + p.w * 0.7, p.y + p.h * 0.5);
    await page.mouse.move(a.x, a.y);
    await page.mouse.down();
    await page.mouse.move(b.x, b.y, { steps: 8 });
    await page.mouse.up();
    await page.screenshot({ path: join(SHOTS, '19a-inpaint-mask.png') });
    await page.click('[data-testid=inpaint]');
    await page.waitForSelector('[data-testid=candidates] img', { timeout: 120_000 });
    expect(await page.$$eval('[data-testid=candidates] img', (imgs) => imgs.length)).toBe(2);
    await page.waitForFunction("[...document.querySelectorAll('[data-testid=candidates] img')].every((i) => i.complete && i.naturalWidth > 0)");
    await page.screenshot({ path: join(SHOTS, '19b-inpaint-candidates.png') });
    await page.click('[data-testid=candidates] button >> nth=1');
    await page.waitForSelector('[data-testid=candidates]', { state: 'detached' });
    // The save-state label can still read "All changes saved" from before the pick until autosave's debounce
    // starts, so wait for the stored project itself to carry the picked picture.
    const storedPicture = async () => (await stored()).pages[0].panels[0].layers.find((l) => l.kind === 'generated')?.asset;
    await expect.poll(storedPicture, { timeout: 60_000, interval: 250 }).not.toBe(before.asset);
    await page.waitForFunction("document.querySelector('[data-testid=save-state]')?.textContent === 'All changes saved'");
    const layers = (await stored()).pages[0].panels[0].layers;
    const now = layers.filter((l) => l.kind === 'generated');
    expect(now).toHaveLength(1);
    expect(now[0].asset).not.toBe(before.asset);
    const wf = now[0].workflow as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
    expect(wf.encode.class_type).toBe('VAEEncodeForInpaint');
    expect(wf.encode.inputs.grow_mask_by).toBe(32);
  });

  it('details a box drawn on the panel and pastes it back into a picture of the same size', async () => {
    const p = await selectPanel(0);
    const before = (await stored()).pages[0].panels[0].layers.find((l) => l.kind === 'generated')!;
    await page.click('[data-testid=draw-box]');
    const a = await toScreen(p.x + p.w * 0.2, p.y + p.h * 0.2);
    const b = await toScreen(p.x + p.w * 0.6, p.y + p.h * 0.8);
    await page.mouse.move(a.x, a.y);
    await page.mouse.down();
    await page.mouse.move(b.x, b.y, { steps: 6 });
    await page.mouse.up();
    await page.screenshot({ path: join(SHOTS, '19c-detailer-box.png') });
    await watchJob();
    await page.click('[data-testid=detail]');
    await jobEnds();
    expect((await seen()).statuses.at(-1)).toMatch(/^done/);
    await page.waitForFunction("document.querySelector('[data-testid=save-state]')?.textContent === 'All changes saved'");
    const after = (await stored()).pages[0].panels[0].layers.find((l) => l.kind === 'generated')!;
    expect(after.asset).not.toBe(before.asset);
    const wf = after.workflow as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
    expect(wf.crop.inputs).toMatchObject({ x: 27, y: 13, width: 54, height: 38 }); // 20–60 % × 20–80 % of 136 × 64
    const meta = await sharp(Buffer.from(await (await fetch(`${front.url}/studio/projects/${projectId()}/assets/${after.asset}`)).arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([136, 64]);
  });

  it('exports the page with the generated and coloured panels as a PDF that renders', async () => {
    await page.click('[data-testid=export-menu]');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-pdf]')]);
    const pdf = join(SHOTS, 'tools-comic.pdf');
    await dl.saveAs(pdf);
    execFileSync('pdftoppm', ['-r', '40', '-png', '-singlefile', pdf, join(SHOTS, '20-tools-pdf-page')]);
    const { data, info } = await sharp(join(SHOTS, '20-tools-pdf-page.png')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    // The coloured panel (panel 2, the middle third of the page) holds colour; a blank page would not.
    let coloured = 0;
    const y0 = Math.round(info.height * 0.36);
    const y1 = Math.round(info.height * 0.62);
    for (let y = y0; y < y1; y++) for (let x = 0; x < info.width; x++) {
      const i = (y * info.width + x) * 3;
      if (Math.max(data[i], data[i + 1], data[i + 2]) - Math.min(data[i], data[i + 1], data[i + 2]) > 60) coloured++;
    }
    expect(coloured / ((y1 - y0) * info.width)).toBeGreaterThan(0.05);

    // The page PNG carries the workflows that made its pictures: ComfyUI's `prompt` chunk and inkflow's.
    await page.click('[data-testid=export-menu]');
    const [png] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-png]')]);
    const pngPath = join(SHOTS, 'tools-page.png');
    await png.saveAs(pngPath);
    const chunks = readTextChunks(new Uint8Array(readFileSync(pngPath)));
    const prompt = JSON.parse(chunks.prompt) as Record<string, { class_type: string }>;
    expect(Object.values(prompt).map((n) => n.class_type)).toEqual(expect.arrayContaining(['CheckpointLoaderSimple', 'KSampler', 'SaveImage']));
    const record = JSON.parse(chunks.inkflow) as { dpi: number; workflows: unknown[] };
    expect(record.dpi).toBe(300);
    expect(record.workflows.length).toBe(2); // the generated panel and the flat colours
    expect(pageErrors).toEqual([]);
  });

  it('sketch → panel with a T2I-Adapter: the fidelity slider sets the adapter scale and end_percent, with progress', async () => {
    const p = await selectPanel(2);
    await page.fill('[data-testid=panel-prompt]', 'a lighthouse at night');
    await page.fill('[data-testid=long-side]', '64');
    await page.fill('[data-testid=steps]', '3');
    await page.click('[data-testid=draw-sketch]');
    const a = await toScreen(p.x + p.w * 0.3, p.y + p.h * 0.8);
    const b = await toScreen(p.x + p.w * 0.5, p.y + p.h * 0.2);
    const c = await toScreen(p.x + p.w * 0.7, p.y + p.h * 0.8);
    await page.mouse.move(a.x, a.y);
    await page.mouse.down();
    await page.mouse.move(b.x, b.y, { steps: 5 });
    await page.mouse.move(c.x, c.y, { steps: 5 });
    await page.mouse.up();
    await page.selectOption('[data-testid=guide-kind]', 't2i-adapter');
    expect(await page.$$eval('[data-testid=controlnet] option', (o) => o.map((x) => x.textContent))).toEqual(['adapter_tiny']);
    await page.screenshot({ path: join(SHOTS, '21-adapter-chosen.png') });
    await watchJob();
    await page.click('[data-testid=sketch-to-panel]');
    await jobEnds();
    const s = await seen();
    expect(s.statuses.at(-1)).toMatch(/^done/);
    expect(s.statuses).toEqual(expect.arrayContaining(['step 1 of 3', 'step 3 of 3']));
    expect(s.progress).toBe(true);
    await page.waitForFunction("document.querySelector('[data-testid=save-state]')?.textContent === 'All changes saved'");
    const layers = (await stored()).pages[0].panels[2].layers;
    const made = layers.filter((l) => l.kind === 'generated').at(-1)!;
    const wf = made.workflow as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
    expect(wf.apply.class_type).toBe('InkflowT2IAdapterApply');
    expect(wf.apply.inputs).toMatchObject({ scale: 0.75, start_percent: 0, end_percent: 0.75 });
    expect(wf.cn.inputs.control_net_name).toBe('adapter_tiny');
    await page.screenshot({ path: join(SHOTS, '22-adapter-generated.png') });
  });

  it('colours the line-art panel with the ColorizeDiffusion model from the sheet: progress, then colours and shading land in the panel', async () => {
    await selectPanel(1);
    // The bundled line art at 160 px keeps the model run short (the flat colours of the earlier test stay until replaced).
    const small = join(SHOTS, 'lineart-160.png');
    await sharp(join(EXAMPLES, 'lineart.png')).resize(160, 160).png().toFile(small);
    await page.setInputFiles('[data-testid=add-lineart]', small);
    await page.waitForFunction("document.querySelectorAll('[data-testid=layer-lineart]').length === 1");
    await page.fill('[data-testid=steps]', '2');
    await page.waitForSelector('[data-testid=model-colouring]');
    expect(await page.$$eval('[data-testid=colour-model-select] option', (o) => o.map((x) => x.textContent))).toEqual(['tiny-cd.safetensors']);
    const before = (await stored()).pages[0].panels[1].layers.find((l) => l.kind === 'flat')!;
    await watchJob();
    await page.click('[data-testid=colour-model]');
    await jobEnds();
    const s = await seen();
    expect(s.statuses.at(-1)).toBe('done — colours and shading are new layers of this panel');
    expect(s.statuses).toEqual(expect.arrayContaining(['step 1 of 2', 'step 2 of 2']));
    expect(s.progress).toBe(true);
    await page.waitForFunction("document.querySelector('[data-testid=save-state]')?.textContent === 'All changes saved'");
    const layers = (await stored()).pages[0].panels[1].layers;
    expect(layers.map((l) => [l.kind, l.blend])).toEqual([['lineart', 'normal'], ['flat', 'normal'], ['shading', 'overlay']]);
    const flat = layers[1];
    expect(flat.asset).not.toBe(before.asset);
    const wf = flat.workflow as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
    expect(wf.colour.class_type).toBe('InkflowReferenceColorize');
    expect(wf.colour.inputs).toMatchObject({ model_name: 'tiny-cd.safetensors', steps: 2 });
    expect(wf.lock.class_type).toBe('InkflowPaletteLock');
    // The random-weight model paints noise; the palette lock snaps it to a few flat colours, at the line art's size.
    const asset = async (name: string) => sharp(Buffer.from(await (await fetch(`${front.url}/studio/projects/${projectId()}/assets/${name}`)).arrayBuffer())).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const { data, info } = await asset(flat.asset);
    expect([info.width, info.height]).toEqual([160, 160]);
    const colours = new Map<number, number>();
    for (let i = 0; i < data.length; i += 3) colours.set((data[i] << 16) | (data[i + 1] << 8) | data[i + 2], (colours.get((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]) ?? 0) + 1);
    const palette = new Set((await stored()).characters[0].palette.map((h) => parseInt(h.slice(1), 16)));
    console.log('model colouring:', colours.size, 'colours; in the sheet palette:', [...colours].filter(([c]) => palette.has(c)).reduce((a, [, n]) => a + n, 0) / (data.length / 3));
    expect(colours.size).toBeGreaterThan(1);
    // Most pixels are exactly sheet colours (the rest are the lines).
    expect([...colours].filter(([c]) => palette.has(c)).reduce((a, [, n]) => a + n, 0) / (data.length / 3)).toBeGreaterThan(0.8);
    const shading = await asset(layers[2].asset);
    expect([shading.info.width, shading.info.height]).toEqual([160, 160]);
    await page.screenshot({ path: join(SHOTS, '23-model-coloured.png') });
    expect(pageErrors).toEqual([]);
  });
});
