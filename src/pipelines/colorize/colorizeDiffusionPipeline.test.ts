// ColorizeDiffusion end to end on a tiny random single file in the released layout: loading (parts, modes,
// prediction rule, clear errors), the fig2fig reference context, image sizes, determinism, mode differences.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImage, type Image } from '../../imaging/image.ts';
import { openSafetensors, writeSafetensors } from '../../weights/safetensors.ts';
import { TINY_COLORIZE_CONFIG, writeTinyColorizeCheckpoint } from '../../models/splitAttention/tinyColorizeCheckpoint.ts';
import type { ColorizeMode } from '../../models/splitAttention/modes.ts';
import { isColorizeDiffusionFile, loadColorizeDiffusion, predictionFromFileName, type ColorizeDiffusionCheckpoint } from './colorizeDiffusionCheckpoint.ts';
import { colorizeDiffusion, imageToSigned, signedToImage } from './colorizeDiffusionPipeline.ts';
import { blueprintFromLineArt } from './blueprint.ts';

const tmp = mkdtempSync(join(tmpdir(), 'inkflow-cd-'));
const opts = { unetConfig: TINY_COLORIZE_CONFIG, cacheDir: false as const, threads: 1 };
let cp: ColorizeDiffusionCheckpoint;
const file = join(tmp, 'switch-tiny.safetensors');

beforeAll(async () => {
  await writeTinyColorizeCheckpoint(file);
  cp = await loadColorizeDiffusion(file, opts);
});
afterAll(async () => {
  await cp?.release();
  rmSync(tmp, { recursive: true, force: true });
});

/** A character sheet: a red disc with a blue band on white. */
function reference(w = 48, h = 40): Image {
  const img = createImage(w, h, 3, 255);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    if ((x - w / 2) ** 2 + (y - h / 2) ** 2 < (h / 3) ** 2) img.data.set(y % 8 < 3 ? [30, 40, 200] : [210, 30, 40], (y * w + x) * 3);
  }
  return img;
}
/** Line art, black on white: a closed box with a line across it. */
function lineArt(w = 56, h = 40): Image {
  const img = createImage(w, h, 3, 255);
  const ink = (x: number, y: number) => img.data.set([0, 0, 0], (y * w + x) * 3);
  for (let x = 10; x < 40; x++) (ink(x, 8), ink(x, 30), ink(x, 19));
  for (let y = 8; y <= 30; y++) (ink(10, y), ink(39, y));
  return img;
}
const maxDiff = (a: Image, b: Image) => a.data.reduce((m, v, i) => Math.max(m, Math.abs(v - b.data[i])), 0);

describe('loadColorizeDiffusion', () => {
  it('finds every part, the LoRA placement, the background path and the modes', () => {
    expect(isColorizeDiffusionFile(file)).toBe(true);
    expect(cp.lora.loraBlocks).toEqual(['up']);
    expect(cp.backgroundEncoder).toMatchObject({ dim: 24, queries: 8, layers: 2, hidden: 96, thresholdFeatures: 16 });
    expect(cp.modes).toEqual(['vanilla', 'fg_enhance', 'bg_enhance', 'fig2fig']);
    expect(cp.referenceSize).toBe(224);
    expect(cp.vae.scaleFactor).toBe(8);
    expect(cp.prediction).toBe('v_prediction'); // no "eps" in the name
    expect(predictionFromFileName('/m/switch-eps-v1.safetensors')).toBe('epsilon');
  });

  it('refuses incomplete files naming what is missing, and accepts a separate reference encoder', async () => {
    const noVae = await writeTinyColorizeCheckpoint(join(tmp, 'novae.safetensors'), { omit: ['vae', 'referenceEncoder'] });
    await expect(loadColorizeDiffusion(noVae, opts)).rejects.toThrow(/missing the VAE \(first_stage_model\.\*\)/);
    const noClip = await writeTinyColorizeCheckpoint(join(tmp, 'noclip.safetensors'), { omit: ['referenceEncoder'] });
    await expect(loadColorizeDiffusion(noClip, opts)).rejects.toThrow(/missing the reference encoder \(OpenCLIP ViT-H\/14/);
    // The same tower as a bare open_clip file (visual.*) gives the same tokens as the embedded one.
    const full = openSafetensors(file);
    const tower = [...full.tensors.keys()].filter((k) => k.startsWith('cond_stage_model.visual.model.'));
    const towerFile = join(tmp, 'open_clip_pytorch_model.safetensors');
    await writeSafetensors(towerFile, tower.map((k) => ({ name: k.replace('cond_stage_model.visual.model.', 'visual.'), dtype: 'F32' as const, shape: full.info(k).shape, data: full.readF32(k) })));
    full.close();
    const sep = await loadColorizeDiffusion(noClip, { ...opts, referenceEncoder: towerFile });
    const ref = imageToSigned(reference());
    const [a, b] = [(await cp.encodeReference(ref)).tokens, (await sep.encodeReference(ref)).tokens];
    expect(a.shape).toEqual([1, 256, 24]);
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    await sep.release();
    const noBg = await writeTinyColorizeCheckpoint(join(tmp, 'nobg.safetensors'), { omit: ['backgroundEncoder'] });
    const c = await loadColorizeDiffusion(noBg, opts);
    expect(c.modes).toEqual(['vanilla', 'fg_enhance']);
    expect(() => c.model({ mode: 'fig2fig' })).toThrow(/no background encoder.*fig2fig needs it/);
    await c.release();
    const noLora = await writeTinyColorizeCheckpoint(join(tmp, 'nolora.safetensors'), { omit: ['lora'] });
    const l = await loadColorizeDiffusion(noLora, opts);
    expect(l.modes).toEqual(['vanilla']);
    expect(() => l.model({ mode: 'fg_enhance' })).toThrow(/no split-attention LoRA weights.*--mode vanilla/);
    await l.release();
  });

  it('background path: the sketch-threshold embedding is added to every reference token, the background part ignores them', async () => {
    const ref = imageToSigned(reference());
    const tokens = (await cp.encodeReference(ref)).tokens;
    const bg = (await cp.encodeReference(imageToSigned(createImage(48, 40, 3, 255)))).tokens;
    const context = async (t: typeof tokens, tsR: number) => {
      const p = await cp.backgroundPath(t, bg, tsR, 0.05);
      return { shape: [1, 256 + 8, 24], data: Float32Array.from([...p.foreground.data, ...p.backgroundOutput.data]) };
    };
    const ctx = await context(tokens, 0.5);
    const delta = (t: number, k: number) => ctx.data[t * 24 + k] - tokens.data[t * 24 + k];
    for (const t of [1, 100, 255]) for (let k = 0; k < 24; k++) expect(delta(t, k)).toBeCloseTo(delta(0, k), 5);
    expect(Math.max(...Array.from({ length: 24 }, (_, k) => Math.abs(delta(0, k))))).toBeGreaterThan(1e-3);
    const other = await context({ shape: tokens.shape, data: tokens.data.map((v) => v * 2) }, 0.5);
    expect(Array.from(other.data.subarray(256 * 24))).toEqual(Array.from(ctx.data.subarray(256 * 24)));
    const ts = await context(tokens, 0.3); // ts_r changes the background tokens only
    expect(Array.from(ts.data.subarray(0, 256 * 24))).toEqual(Array.from(ctx.data.subarray(0, 256 * 24)));
    expect(Array.from(ts.data.subarray(256 * 24))).not.toEqual(Array.from(ctx.data.subarray(256 * 24)));
  });
});

describe('colorizeDiffusion (tiny random checkpoint)', () => {
  const run = (mode: ColorizeMode, seed = 7) => colorizeDiffusion({ model: cp, reference: reference(), sketch: lineArt(), mode, seed, steps: 3 });

  it('returns an image at the line art size (padded to ×16 inside), deterministic per seed', async () => {
    const phases: string[] = [];
    const a = await colorizeDiffusion({ model: cp, reference: reference(), sketch: lineArt(), mode: 'fig2fig', seed: 7, steps: 3, onProgress: (p) => phases.push(p.phase) });
    expect([a.image.width, a.image.height, a.image.channels]).toEqual([56, 40, 3]);
    expect(a.timesteps).toHaveLength(3);
    expect(phases).toEqual(['encode', 'step', 'step', 'step', 'decode']);
    expect(a.sketchMask!.data.some((v) => v > 0.5)).toBe(true);
    expect(a.referenceMask!.data.some((v) => v > 0.5)).toBe(true);
    const b = await run('fig2fig');
    expect(maxDiff(a.image, b.image)).toBe(0);
    const c = await run('fig2fig', 8);
    expect(maxDiff(a.image, c.image)).toBeGreaterThan(0);
  });

  it('the four modes give different images when the LoRA weights are non-zero', async () => {
    const [v, fg, bg, f2f] = [await run('vanilla'), await run('fg_enhance'), await run('bg_enhance'), await run('fig2fig')];
    const d = [maxDiff(v.image, fg.image), maxDiff(fg.image, f2f.image), maxDiff(v.image, f2f.image), maxDiff(bg.image, f2f.image)];
    console.log(`[colorize-diffusion e2e] max |Δ| per channel: vanilla–fg ${d[0]}, fg–fig2fig ${d[1]}, vanilla–fig2fig ${d[2]}, bg–fig2fig ${d[3]}`);
    for (const x of d) expect(x).toBeGreaterThan(0);
    expect(v.sketchMask).toBeUndefined();
    expect(fg.referenceMask).toBeUndefined();
    expect(bg.referenceMask).toBeDefined();
  });

  it('given masks and tensors are used as they are (what reproducing a run of the original needs)', async () => {
    const sketch = imageToSigned(blueprintFromLineArt(lineArt(64, 48)));
    const ref = imageToSigned(reference());
    const sketchMask = { shape: [1, 1, 48, 64], data: Float32Array.from({ length: 48 * 64 }, (_, i) => ((i % 64) < 32 ? 1 : 0)) };
    const referenceMask = { shape: [1, 1, 40, 48], data: Float32Array.from({ length: 40 * 48 }, (_, i) => ((i % 48) < 24 ? 1 : 0)) };
    const a = await colorizeDiffusion({ model: cp, reference: ref, sketch, sketchMask, referenceMask, mode: 'fig2fig', seed: 3, steps: 2 });
    const b = await colorizeDiffusion({ model: cp, reference: reference(), sketch: lineArt(64, 48), sketchMask, referenceMask, mode: 'fig2fig', seed: 3, steps: 2 });
    expect([a.image.width, a.image.height]).toEqual([64, 48]);
    expect(maxDiff(a.image, b.image)).toBe(0);
    expect(a.sketchMask).toBeUndefined(); // given, not computed
    await expect(colorizeDiffusion({ model: cp, reference: ref, sketch, mode: 'fig2fig', sketchMask })).rejects.toThrow(/needs a reference mask/);
    await expect(colorizeDiffusion({ model: cp, reference: ref, sketch, mode: 'fig2fig', sketchMask: { shape: [1, 1, 4, 4], data: new Float32Array(16) }, referenceMask })).rejects.toThrow(/sketch mask must be 64×48/);
  });

  it('bad input gives clear errors', async () => {
    await expect(colorizeDiffusion({ model: cp, reference: reference(), sketch: lineArt(), mode: 'fig2fig', referenceThreshold: 2 })).rejects.toThrow(/referenceThreshold must be in \[0, 1\]/);
    await expect(colorizeDiffusion({ model: cp, reference: reference(), sketch: lineArt(), steps: 0 })).rejects.toThrow(/steps must be an integer/);
    await expect(colorizeDiffusion({ model: cp, reference: { width: 2, height: 2, channels: 3, data: new Uint8Array(3) }, sketch: lineArt() })).rejects.toThrow();
    const blank = await colorizeDiffusion({ model: cp, reference: reference(), sketch: createImage(16, 16, 3, 255), mode: 'fg_enhance', seed: 1, steps: 1 });
    expect(blank.warnings.join(' ')).toMatch(/no lines/);
  });

  it('post-processing truncates like the demo and crops the padding', () => {
    const t = { shape: [1, 3, 2, 2], data: Float32Array.from([-1, 0, 1, 2, -1, -1, -1, -1, 0.5, 0.5, 0.5, 0.5]) };
    const img = signedToImage(t, { left: 1, top: 0, width: 1, height: 2 });
    expect(Array.from(img.data)).toEqual([127, 0, 191, 255, 0, 191]); // (0+1)·127.5 → 127, (0.5+1)·127.5 = 191.25 → 191
  });
});
