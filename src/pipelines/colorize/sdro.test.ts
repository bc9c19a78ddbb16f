// SDRO pipeline behaviour on the tiny golden components (shared/golden/sdro_pipeline, loaded as a user's model
// folder): sizes, progress, cancellation, seeds, compile reuse, and bad input. Numerics against the original
// pipeline are checked by the golden handler (test/golden/handlers/sdroPipeline.ts).
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goldenRoot } from '../../../test/golden/io.ts';
import { createImage, decodeImage, ImageError, type Image } from '../../imaging/image.ts';
import { loadSdroPipeline, type SdroPipeline } from './sdro.ts';
import { SdroFolderError } from './sdroFolder.ts';
import { blueprintToTensor } from './blueprintTensor.ts';

const dir = join(goldenRoot, 'sdro_pipeline');

function crop(img: Image, w: number, h: number): Image {
  const out = createImage(w, h, img.channels);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < img.channels; c++) out.data[(y * w + x) * img.channels + c] = img.data[((y % img.height) * img.width + (x % img.width)) * img.channels + c];
    }
  }
  return out;
}

describe('SDRO pipeline on the tiny golden components', () => {
  let pipe: SdroPipeline;
  let reference: Image;
  let blueprint: Image;

  beforeAll(async () => {
    pipe = await loadSdroPipeline(dir, { cacheDir: false });
    reference = await decodeImage(join(dir, 'reference.png'), 3);
    blueprint = await decodeImage(join(dir, 'blueprint.png'), 3);
  });
  afterAll(async () => {
    await pipe?.release();
  });

  it('output size is the blueprint size, non-square included (48×80 → latent 6×10)', async () => {
    const res = await pipe.colorize({ reference, blueprint: crop(blueprint, 80, 48), steps: 2, seed: 1 });
    expect([res.image.width, res.image.height, res.image.channels]).toEqual([80, 48, 3]);
    expect(res.latents.shape).toEqual([1, 4, 6, 10]);
    expect(res.warnings).toEqual([]);
  });

  it('floors a blueprint that is not a multiple of 8 (Lanczos resize) and says so; any reference size works', async () => {
    const odd = crop(blueprint, 70, 53);
    const res = await pipe.colorize({ reference: crop(reference, 200, 31), blueprint: odd, steps: 1, seed: 1 });
    expect([res.image.width, res.image.height]).toEqual([64, 48]);
    expect(res.warnings.join(' ')).toMatch(/70×53 resized to 64×48/);
    expect(blueprintToTensor(odd).shape).toEqual([1, 3, 48, 64]);
  });

  it('reports progress per step, is deterministic for a seed and compiles the UNet once per size', async () => {
    const events: string[] = [];
    const a = await pipe.colorize({ reference, blueprint, steps: 3, seed: 42, onProgress: (p) => events.push(`${p.phase}:${p.step}/${p.steps}`) });
    expect(events).toEqual(['encode:0/3', 'step:1/3', 'step:2/3', 'step:3/3', 'decode:3/3']);
    const b = await pipe.colorize({ reference, blueprint, steps: 3, seed: 42 });
    const c = await pipe.colorize({ reference, blueprint, steps: 3, seed: 43 });
    expect(b.seed).toBe(42n);
    expect(Buffer.compare(Buffer.from(a.latents.data.buffer), Buffer.from(b.latents.data.buffer))).toBe(0);
    expect(Buffer.compare(Buffer.from(a.latents.data.buffer), Buffer.from(c.latents.data.buffer))).not.toBe(0);
    expect(pipe.compiledUNetSizes().filter((s) => s === '8x8')).toHaveLength(1);
    const d = await pipe.colorize({ reference, blueprint, steps: 1 });
    expect(typeof d.seed).toBe('bigint');
  });

  it('stops when the AbortSignal fires, after the step in progress', async () => {
    const ctl = new AbortController();
    const steps: number[] = [];
    const run = pipe.colorize({
      reference, blueprint, steps: 6, seed: 0, signal: ctl.signal,
      onProgress: (p) => {
        if (p.phase !== 'step') return;
        steps.push(p.step);
        if (p.step === 2) ctl.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(steps).toEqual([1, 2]);
    const pre = new AbortController();
    pre.abort();
    await expect(pipe.colorize({ reference, blueprint, steps: 2, signal: pre.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('empty line art (all-black blueprint) colours from the reference alone, with a warning', async () => {
    const res = await pipe.colorize({ reference, blueprint: createImage(64, 32, 3, 0), steps: 2, seed: 0 });
    expect([res.image.width, res.image.height]).toEqual([64, 32]);
    expect(res.warnings.join(' ')).toMatch(/no lines/);
  });

  it('warns when the blueprint looks like dark-on-light line art', async () => {
    const inverted = { ...blueprint, data: blueprint.data.map((v) => 255 - v) };
    const res = await pipe.colorize({ reference, blueprint: inverted, steps: 1, seed: 0 });
    expect(res.warnings.join(' ')).toMatch(/white lines on black/);
  });

  it('rejects bad input with clear errors', async () => {
    await expect(pipe.colorize({ reference, blueprint: createImage(7, 64, 3), steps: 1 })).rejects.toThrow(/at least 8 px/);
    await expect(pipe.colorize({ reference, blueprint: createImage(64, 5, 1), steps: 1 })).rejects.toBeInstanceOf(ImageError);
    await expect(pipe.colorize({ reference: {} as Image, blueprint, steps: 1 })).rejects.toThrow(/reference: image must have a positive integer size/);
    await expect(pipe.colorize({ reference, blueprint, steps: 0 })).rejects.toThrow(/steps must be an integer/);
    await expect(pipe.colorize({ reference, blueprint, steps: 2.5 })).rejects.toThrow(/steps must be an integer/);
    await expect(pipe.colorize({ reference, blueprint, steps: 1, seed: 1.5 })).rejects.toThrow(/seed must be an integer/);
  });
});

describe('loading SDRO model folders', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'inkflow-sdro-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('a non-image file as reference or blueprint fails at decode with the file named', async () => {
    const p = join(tmp, 'notes.png');
    writeFileSync(p, 'this is not a PNG');
    await expect(decodeImage(p)).rejects.toThrow(/notes\.png: cannot decode image/);
  });

  it('refuses folders that are not SDRO pipelines, naming what is wrong', async () => {
    await expect(loadSdroPipeline(join(tmp, 'missing'))).rejects.toThrow(SdroFolderError);
    await expect(loadSdroPipeline(join(goldenRoot, 'models', 'sdro_unet_tiny'))).rejects.toThrow(/model_index\.json is missing/);
    const other = join(tmp, 'other');
    cpSync(dir, other, { recursive: true, filter: (src) => !src.includes('tensors') });
    writeFileSync(join(other, 'model_index.json'), JSON.stringify({ _class_name: 'StableDiffusionPipeline' }));
    await expect(loadSdroPipeline(other)).rejects.toThrow(/expected "StableDiffusionReferenceOnlyPipeline"/);
  });

  it('names a missing component or weights file', async () => {
    const noVae = join(tmp, 'novae');
    cpSync(dir, noVae, { recursive: true, filter: (src) => !src.includes('tensors') && !/[/\\]vae([/\\]|$)/.test(src) });
    await expect(loadSdroPipeline(noVae)).rejects.toThrow(/subfolder vae\/ is missing/);
    const noWeights = join(tmp, 'noweights');
    cpSync(dir, noWeights, { recursive: true, filter: (src) => !src.includes('tensors') && !src.endsWith('model.safetensors') });
    await expect(loadSdroPipeline(noWeights, { cacheDir: false })).rejects.toThrow(/weights/i);
    const badJson = join(tmp, 'badjson');
    cpSync(dir, badJson, { recursive: true, filter: (src) => !src.includes('tensors') });
    writeFileSync(join(badJson, 'scheduler', 'scheduler_config.json'), '{ not json');
    await expect(loadSdroPipeline(badJson)).rejects.toThrow(/scheduler_config\.json is not valid JSON/);
  });
});
