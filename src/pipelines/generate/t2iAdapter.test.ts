// T2I-Adapters end to end on the tiny checkpoint (golden unet_tiny + t2i_adapter_tiny): determinism, scale 0
// is no adapter, scales sum over adapters, features reach both CFG halves and every batch entry, the
// control image's preprocessing, and bad input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertChannels, createImage, type Image } from '../../imaging/image.ts';
import { resizeImage } from '../../imaging/resize.ts';
import { loadCheckpoint, type Checkpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import { loadT2IAdapter } from '../../models/t2iAdapter/load.ts';
import { generate, GenerateError, type GenerateRequest } from './generate.ts';
import { adapterFeatures } from './t2iAdapter.ts';
import { TINY_T2I_ADAPTER, assertTinyModels, writeTinyDiffusersCheckpoint } from './tinyCheckpoint.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-t2i-generate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base: GenerateRequest = { prompt: 'a cat on a mat', negative: 'blurry', seed: 42, steps: 4, sampler: 'euler', scheduler: 'normal', width: 16, height: 16, cfg: 7 };
const compile = { cacheDir: false as const };

function sketch(w: number, h: number): Image {
  const img = createImage(w, h, 3, 255);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if ((x + 2 * y) % 7 === 0 || x === y) img.data.fill(0, (y * w + x) * 3, (y * w + x) * 3 + 3);
  return img;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const same = (a: Image, b: Image) => Buffer.from(a.data).equals(Buffer.from(b.data));

assertTinyModels(TINY_T2I_ADAPTER);
describe('generate with T2I-Adapters (tiny models)', () => {
  let ckpt: Checkpoint;
  let plain: Awaited<ReturnType<typeof generate>>;
  let adapted: Awaited<ReturnType<typeof generate>>;
  const image = sketch(40, 24);

  beforeAll(async () => {
    ckpt = loadCheckpoint(await writeTinyDiffusersCheckpoint(join(dir, 'tiny')), { cacheDir: false });
    plain = await generate(ckpt, base);
    adapted = await generate(ckpt, { ...base, adapters: [{ path: TINY_T2I_ADAPTER, image }] }, { compile });
  });
  afterAll(async () => {
    await ckpt?.release();
  });

  it('the adapter changes the result, deterministically; scale 0 is exactly no adapter', async () => {
    const effect = maxDiff(adapted.latent, plain.latent);
    expect(effect).toBeGreaterThan(1e-2);
    expect(adapted.timings.unetCalls).toBe(4);
    expect(adapted.timings.adapterMs).toBeGreaterThan(0);
    const again = await generate(ckpt, { ...base, adapters: [{ path: TINY_T2I_ADAPTER, image }] }, { compile });
    expect(same(again.images[0], adapted.images[0])).toBe(true);
    expect(Array.from(again.latent)).toEqual(Array.from(adapted.latent));
    const zero = await generate(ckpt, { ...base, adapters: [{ path: TINY_T2I_ADAPTER, image, scale: 0 }] }, { compile });
    expect(Array.from(zero.latent)).toEqual(Array.from(plain.latent));
    expect(same(zero.images[0], plain.images[0])).toBe(true);
    console.log(`tiny pipeline: adapter (scale 1) moves the output latent by max ${effect.toFixed(3)}`);
  });

  it('scales sum over adapters (diffusers MultiAdapter): 0.5 + 0.5 = 1, 1 + 0 = 1; 0.5 differs from 1', async () => {
    const halves = await generate(ckpt, { ...base, adapters: [{ path: TINY_T2I_ADAPTER, image, scale: 0.5 }, { path: TINY_T2I_ADAPTER, image, scale: 0.5 }] }, { compile });
    expect(maxDiff(halves.latent, adapted.latent)).toBeLessThan(1e-4);
    const withZero = await generate(ckpt, { ...base, adapters: [{ path: TINY_T2I_ADAPTER, image, scale: 1 }, { path: TINY_T2I_ADAPTER, image: sketch(8, 8), scale: 0 }] }, { compile });
    expect(Array.from(withZero.latent)).toEqual(Array.from(adapted.latent));
    const half = await generate(ckpt, { ...base, adapters: [{ path: TINY_T2I_ADAPTER, image, scale: 0.5 }] }, { compile });
    expect(maxDiff(half.latent, adapted.latent)).toBeGreaterThan(1e-3);
    expect(maxDiff(half.latent, plain.latent)).toBeGreaterThan(1e-3);
  });

  it('features reach every batch entry and, at cfg 1, the single conditional pass', async () => {
    const two = await generate(ckpt, { ...base, batch: 2, adapters: [{ path: TINY_T2I_ADAPTER, image }] }, { compile });
    const twoPlain = await generate(ckpt, { ...base, batch: 2 });
    const per = two.latent.length / 2;
    for (const k of [0, 1]) expect(maxDiff(two.latent.subarray(k * per, (k + 1) * per), twoPlain.latent.subarray(k * per, (k + 1) * per))).toBeGreaterThan(1e-2);
    const cfg1 = await generate(ckpt, { ...base, cfg: 1, adapters: [{ path: TINY_T2I_ADAPTER, image }] }, { compile });
    const cfg1Plain = await generate(ckpt, { ...base, cfg: 1 });
    expect(maxDiff(cfg1.latent, cfg1Plain.latent)).toBeGreaterThan(1e-2);
  });

  it('the control image is resized (Lanczos) to latent × 8 = 64² for the tiny adapter and scaled by 1/255', async () => {
    const [f0, f1] = (await adapterFeatures([{ path: TINY_T2I_ADAPTER, image, scale: 0.5 }], ckpt.unetConfig, 8, 8, compile))!;
    const direct = await loadT2IAdapter(TINY_T2I_ADAPTER, { batch: 1, height: 64, width: 64, cacheDir: false });
    try {
      const px = resizeImage(image, 64, 64, 'lanczos');
      const x = new Float32Array(3 * 64 * 64);
      for (let i = 0; i < 64 * 64; i++) for (let c = 0; c < 3; c++) x[c * 64 * 64 + i] = px.data[i * 3 + c] / 255;
      const [g0, g1] = await direct.forward(x);
      expect(Array.from(f0)).toEqual(Array.from(g0.map((v) => v * 0.5)));
      expect(Array.from(f1)).toEqual(Array.from(g1.map((v) => v * 0.5)));
    } finally {
      await direct.release();
    }
    // A grey or RGBA image is taken as RGB for this 3-channel adapter.
    const grey = convertChannels(image, 1);
    const fromGrey = (await adapterFeatures([{ path: TINY_T2I_ADAPTER, image: grey }], ckpt.unetConfig, 8, 8, compile))!;
    const fromRgb = (await adapterFeatures([{ path: TINY_T2I_ADAPTER, image: convertChannels(grey, 3) }], ckpt.unetConfig, 8, 8, compile))!;
    expect(Array.from(fromGrey[0])).toEqual(Array.from(fromRgb[0]));
    expect(await adapterFeatures([{ path: TINY_T2I_ADAPTER, image, scale: 0 }], ckpt.unetConfig, 8, 8, compile)).toBeUndefined();
  });

  it('works together with img2img (init image + denoise)', async () => {
    const init = sketch(16, 16);
    const a = await generate(ckpt, { ...base, width: undefined, height: undefined, init, denoise: 0.5, adapters: [{ path: TINY_T2I_ADAPTER, image }] }, { compile });
    const b = await generate(ckpt, { ...base, width: undefined, height: undefined, init, denoise: 0.5 });
    expect(maxDiff(a.latent, b.latent)).toBeGreaterThan(1e-3);
  });

  it('bad adapter requests fail with clear errors', async () => {
    await expect(generate(ckpt, { ...base, adapters: [{ path: TINY_T2I_ADAPTER, image, scale: -1 }] })).rejects.toThrow(/T2I-Adapter 1: scale must be in \[0, 10\], got -1/);
    await expect(generate(ckpt, { ...base, adapters: [{ path: TINY_T2I_ADAPTER, image: undefined as unknown as Image }] })).rejects.toThrow(/T2I-Adapter 1: no image/);
    await expect(generate(ckpt, { ...base, adapters: [{ path: join(dir, 'nope'), image }] }, { compile })).rejects.toThrow(/does not exist/);
    // The UNet's weights as an "adapter": not an adapter file.
    await expect(generate(ckpt, { ...base, adapters: [{ path: join(dir, 'tiny', 'unet', 'diffusion_pytorch_model.safetensors'), image }] }, { compile })).rejects.toThrow(/not a diffusers T2IAdapter/);
    await expect(generate(ckpt, { ...base, seed: -1, adapters: [{ path: TINY_T2I_ADAPTER, image }] })).rejects.toThrow(GenerateError);
  });
});
