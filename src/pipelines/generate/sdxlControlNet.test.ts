// SDXL ControlNets and 9-channel SDXL inpainting checkpoints end to end on the tiny SDXL of golden/sdxl_pipeline
// (64² image, 8² latent) with tiny random-weight ControlNets built like ControlNetModel.from_unet (add_embedding
// included, so they take text_embeds / time_ids), in the diffusers and the LDM (control_model.*) layout.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goldenRoot } from '../../../test/golden/io.ts';
import { createImage, decodeImage, type Image } from '../../imaging/image.ts';
import { createMask } from '../../imaging/masks.ts';
import { openControlNet, type ControlNetRunner } from '../../models/checkpoint/controlNetRunner.ts';
import { loadSdxlCheckpoint, type SdxlCheckpoint } from '../../models/checkpoint/sdxlCheckpoint.ts';
import { generateSdxl, type SdxlGenerateRequest } from './sdxlGenerate.ts';
import { SDXL_GOLDEN, SDXL_TOKENIZER_DIR, writeTinySdxlControlNet, writeTinySdxlInpaint, writeTinySdxlRefiner } from './tinySdxlCheckpoint.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-sdxl-cn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base: SdxlGenerateRequest = { prompt: 'a knight on a horse, line art', negative: 'blurry', seed: 7, steps: 3, sampler: 'euler', scheduler: 'normal', width: 64, height: 64, cfg: 5 };
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const same = (a: Image, b: Image) => Buffer.from(a.data).equals(Buffer.from(b.data));

function stripes(): Image {
  const img = createImage(64, 64, 3);
  for (let i = 0; i < 64 * 64; i++) img.data.fill(i % 64 < 20 || Math.floor(i / 64) % 16 < 4 ? 255 : 0, i * 3, i * 3 + 3);
  return img;
}

describe('SDXL ControlNet (tiny SDXL)', () => {
  let ckpt: SdxlCheckpoint;
  let zeroCn: ControlNetRunner;
  let liveCn: ControlNetRunner;
  let plain: Awaited<ReturnType<typeof generateSdxl>>;
  const hint = stripes();

  beforeAll(async () => {
    ckpt = loadSdxlCheckpoint(SDXL_GOLDEN, { tokenizerDir: SDXL_TOKENIZER_DIR, cacheDir: false });
    zeroCn = openControlNet(await writeTinySdxlControlNet(join(dir, 'cn_zero'), { zeroOut: true }), { cacheDir: false });
    liveCn = openControlNet(await writeTinySdxlControlNet(join(dir, 'cn_live')), { cacheDir: false });
    plain = await generateSdxl(ckpt, base);
  });
  afterAll(async () => {
    await zeroCn?.release();
    await liveCn?.release();
    await ckpt?.release();
  });

  it('loads as an SDXL ControlNet: text_time added conditioning with the UNet\'s pooled width and 6 time ids', () => {
    expect(liveCn.config.unet.addition).toMatchObject({ textEmbedDim: 32, timeIds: 6 });
    expect(liveCn.config.unet.crossAttentionDim).toBe(64);
    expect(liveCn.hintScale).toBe(8);
  });

  it('zero-initialised output convs leave the image unchanged; a trained (non-zero) one changes it', async () => {
    const zero = await generateSdxl(ckpt, { ...base, controlNets: [{ controlNet: zeroCn, hint }] });
    expect(maxDiff(zero.latent, plain.latent)).toBeLessThan(1e-6);
    expect(same(zero.images[0], plain.images[0])).toBe(true);
    const live = await generateSdxl(ckpt, { ...base, controlNets: [{ controlNet: liveCn, hint }] });
    expect(maxDiff(live.latent, plain.latent)).toBeGreaterThan(1e-4);
    expect(same(live.images[0], plain.images[0])).toBe(false);
  });

  it('strength 0 equals no ControlNet; the pooled text and the time ids reach the ControlNet', async () => {
    const off = await generateSdxl(ckpt, { ...base, controlNets: [{ controlNet: liveCn, hint, strength: 0 }] });
    expect(maxDiff(off.latent, plain.latent)).toBe(0);
    const shape = { batch: 1, height: 8, width: 8, seqLen: 77, guessMode: false };
    const x = {
      sample: Float32Array.from({ length: 4 * 64 }, (_, i) => Math.sin(i)), timestep: Float32Array.of(500), encoderHiddenStates: Float32Array.from({ length: 77 * 64 }, (_, i) => Math.cos(i)),
      hint: new Float32Array(3 * 64 * 64).fill(0.5), scale: Float32Array.of(1), textEmbeds: new Float32Array(32).fill(0.1), timeIds: Float32Array.of(64, 64, 0, 0, 64, 64),
    };
    const r0 = await liveCn.forward(shape, x);
    const rIds = await liveCn.forward(shape, { ...x, timeIds: Float32Array.of(1024, 1024, 0, 0, 64, 64) });
    const rText = await liveCn.forward(shape, { ...x, textEmbeds: new Float32Array(32).fill(-0.1) });
    expect(maxDiff(r0.mid, rIds.mid)).toBeGreaterThan(1e-5);
    expect(maxDiff(r0.mid, rText.mid)).toBeGreaterThan(1e-5);
    await expect(liveCn.forward(shape, { ...x, textEmbeds: undefined, timeIds: undefined })).rejects.toThrow(/SDXL ControlNet: it needs text_embeds \[1×32\] and time_ids \[1×6\]/);
  });

  it('the LDM single file (control_model.*, label_emb) gives the diffusers folder\'s image', async () => {
    const ldm = openControlNet(await writeTinySdxlControlNet(join(dir, 'cn_ldm'), { layout: 'ldm' }), { cacheDir: false });
    try {
      const a = await generateSdxl(ckpt, { ...base, controlNets: [{ controlNet: liveCn, hint, strength: 0.7, endPercent: 0.6 }] });
      const b = await generateSdxl(ckpt, { ...base, controlNets: [{ controlNet: ldm, hint, strength: 0.7, endPercent: 0.6 }] });
      expect(maxDiff(a.latent, b.latent)).toBeLessThan(1e-6);
    } finally {
      await ldm.release();
    }
  });

  it('an SD1 ControlNet on an SDXL checkpoint is refused before any work, naming both', async () => {
    const sd1 = openControlNet(join(goldenRoot, 'controlnet/cn_c16_16_32_32'), { cacheDir: false });
    try {
      await expect(generateSdxl(ckpt, { ...base, controlNets: [{ controlNet: sd1, hint }] })).rejects.toThrow(/ControlNet 1 .*does not fit this checkpoint: the ControlNet is context 32, no pooled text, the checkpoint's UNet SDXL-style, context 64/);
    } finally {
      await sd1.release();
    }
  });

  it('a base SDXL ControlNet on the refiner is refused before any work, saying why (ComfyUI fails on it with a shape mismatch)', async () => {
    const refiner = loadSdxlCheckpoint(await writeTinySdxlRefiner(join(dir, 'tiny_refiner')), { tokenizerDir: SDXL_TOKENIZER_DIR, cacheDir: false });
    try {
      // Without the ControlNet the refiner runs (so the refusal below is the ControlNet's, not the request's).
      const ok = await generateSdxl(refiner, { ...base, steps: 1 });
      expect(ok.images).toHaveLength(1);
      await expect(generateSdxl(refiner, { ...base, controlNets: [{ controlNet: liveCn, hint }] })).rejects.toThrow(
        /ControlNet 1 \(.*cn_live\) is an SDXL base ControlNet and the checkpoint is the SDXL refiner \(the ControlNet is SDXL-style, context 64, pooled 32 \+ 6 time ids, the refiner's UNet SDXL-style, context 32, pooled 32 \+ 5 time ids\): .*trained on the base model.*aesthetic score.*Apply the ControlNet in the base pass/,
      );
    } finally {
      await refiner.release();
    }
  });
});

describe('SDXL inpainting checkpoint (9-channel UNet)', () => {
  let inpaint: SdxlCheckpoint;
  let init: Image;
  const mask = createMask(64, 64);
  for (let y = 16; y < 48; y++) for (let x = 8; x < 40; x++) mask.data[y * 64 + x] = 1;

  beforeAll(async () => {
    inpaint = loadSdxlCheckpoint(await writeTinySdxlInpaint(join(dir, 'tiny_sdxl_inpaint')), { tokenizerDir: SDXL_TOKENIZER_DIR, cacheDir: false });
    init = await decodeImage(join(SDXL_GOLDEN, 'inputs', 'img2img_init.png'), 3);
  });
  afterAll(async () => {
    await inpaint?.release();
  });

  it('loads as inpainting (in_channels 9 = latent + mask + masked-image latent)', () => {
    expect(inpaint.isInpaint).toBe(true);
    expect(inpaint.unetConfig.inChannels).toBe(9);
  });

  it('VAEEncodeForInpaint and noise-mask (InpaintModelConditioning) modes run; batches carry the extra channels per entry', async () => {
    const a = await generateSdxl(inpaint, { ...base, init, mask, denoise: 1 });
    expect([a.images[0].width, a.images[0].height]).toEqual([64, 64]);
    // Pixels outside the mask are the original's (pasted back).
    for (const [x, y] of [[0, 0], [63, 63], [50, 20]]) {
      const k = (y * 64 + x) * 3;
      expect(Array.from(a.images[0].data.subarray(k, k + 3))).toEqual(Array.from(init.data.subarray(k, k + 3)));
    }
    // Another mask (noise mask and the UNet's extra channels) gives another result.
    const other = createMask(64, 64);
    for (let y = 16; y < 48; y++) for (let x = 8; x < 40; x++) other.data[y * 64 + x] = x < 24 ? 1 : 0;
    const b = await generateSdxl(inpaint, { ...base, init, mask: other, denoise: 1 });
    expect(maxDiff(a.latent, b.latent)).toBeGreaterThan(1e-4);
    // Noise-mask mode (img2img strength < 1): the latent is the original image, the concat the greyed one.
    const c = await generateSdxl(inpaint, { ...base, init, mask, denoise: 0.6, inpaintMode: 'noise-mask' });
    expect(maxDiff(c.latent, a.latent)).toBeGreaterThan(1e-4);
    // Batches carry the extra channels per entry.
    const two = await generateSdxl(inpaint, { ...base, init, mask, denoise: 0.6, inpaintMode: 'noise-mask', batch: 2 });
    expect(maxDiff(two.latent.subarray(0, c.latent.length), c.latent)).toBeLessThan(1e-5);
  });

  it('txt2img on an inpainting checkpoint is refused clearly', async () => {
    await expect(generateSdxl(inpaint, base)).rejects.toThrow(/SDXL inpainting checkpoint \(9-channel UNet\): give an init image and a mask/);
  });
});
