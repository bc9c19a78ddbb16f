// End-to-end pipeline tests on tiny random-weight models (golden unet_tiny / vae_tiny / tiny CLIP /
// cn_c16_16_32_32): txt2img, img2img, inpainting (both modes, and a 9-channel inpainting UNet),
// ControlNet, LoRA tags, embeddings, cancellation, single-file checkpoints and bad input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createImage, type Image } from '../../imaging/image.ts';
import { createMask, type Mask } from '../../imaging/masks.ts';
import { loadCheckpoint, type Checkpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import { openControlNet, type ControlNetRunner } from '../../models/checkpoint/controlNetRunner.ts';
import { writeSafetensors } from '../../weights/safetensors.ts';
import { generate, GenerateError, type GenerateRequest } from './generate.ts';
import { sketchFidelity } from './controlNet.ts';
import { TINY_CONTROLNET, TOKENIZER_DIR, assertTinyModels, writeTinyDiffusersCheckpoint, writeTinySingleFile } from './tinyCheckpoint.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-generate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base: GenerateRequest = { prompt: 'a cat on a mat', negative: 'blurry', seed: 42, steps: 4, sampler: 'euler', scheduler: 'normal', width: 16, height: 16, cfg: 7 };

function pattern(w: number, h: number, seed = 1): Image {
  const img = createImage(w, h, 3);
  for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 37 + seed * 101 + ((i * i) % 17)) & 255;
  return img;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const same = (a: Image, b: Image) => Buffer.from(a.data).equals(Buffer.from(b.data));

assertTinyModels();
describe('generate pipeline (tiny models)', () => {
  let ckpt: Checkpoint;
  let cn: ControlNetRunner;
  let plain: Awaited<ReturnType<typeof generate>>;

  beforeAll(async () => {
    ckpt = loadCheckpoint(await writeTinyDiffusersCheckpoint(join(dir, 'tiny')), { cacheDir: false, embeddingsDirs: [join(dir, 'embeddings')] });
    cn = openControlNet(TINY_CONTROLNET, { cacheDir: false });
    plain = await generate(ckpt, base);
  });
  afterAll(async () => {
    await ckpt?.release();
    await cn?.release();
  });

  it('txt2img: shapes, per-step progress, determinism and seed sensitivity', async () => {
    expect(plain.images).toHaveLength(1);
    expect([plain.images[0].width, plain.images[0].height, plain.images[0].channels]).toEqual([16, 16, 3]);
    expect(plain.latentShape).toEqual([1, 4, 8, 8]);
    expect(plain.timings.unetCalls).toBe(4);
    const steps: number[] = [];
    const again = await generate(ckpt, base, { onProgress: (p) => p.stage === 'sample' && steps.push(p.step) });
    expect(steps).toEqual([1, 2, 3, 4]);
    expect(same(again.images[0], plain.images[0])).toBe(true);
    const other = await generate(ckpt, { ...base, seed: 43 });
    expect(same(other.images[0], plain.images[0])).toBe(false);
  });

  it('residency "one" (one compiled model at a time) gives the same pixels, img2img included', async () => {
    const one = loadCheckpoint(ckpt.path, { cacheDir: false, residency: 'one' });
    try {
      const a = await generate(one, base);
      expect(same(a.images[0], plain.images[0])).toBe(true);
      const init = pattern(16, 16, 2);
      const b = await generate(one, { ...base, width: undefined, height: undefined, init, denoise: 0.5 });
      const c = await generate(ckpt, { ...base, width: undefined, height: undefined, init, denoise: 0.5 });
      expect(same(b.images[0], c.images[0])).toBe(true);
    } finally {
      await one.release();
    }
  });

  it('N candidates: one latent batch from one seed, candidates differ', async () => {
    const r = await generate(ckpt, { ...base, batch: 2 });
    expect(r.images).toHaveLength(2);
    expect(r.latentShape).toEqual([2, 4, 8, 8]);
    expect(same(r.images[0], r.images[1])).toBe(false);
  });

  it('CFG: the negative prompt matters at cfg 7 and is skipped at cfg 1', async () => {
    const neg = await generate(ckpt, { ...base, negative: 'a dog' });
    expect(same(neg.images[0], plain.images[0])).toBe(false);
    const a = await generate(ckpt, { ...base, cfg: 1 });
    const b = await generate(ckpt, { ...base, cfg: 1, negative: 'something else entirely' });
    expect(maxDiff(a.latent, b.latent)).toBe(0);
    expect(a.timings.unetCalls).toBe(4);
  });

  it('img2img: keeps the init at denoise 0, moves with denoise, crops to the VAE factor', async () => {
    const init = pattern(17, 16);
    const d0 = await generate(ckpt, { ...base, width: undefined, height: undefined, init, denoise: 0 });
    expect([d0.images[0].width, d0.images[0].height]).toEqual([16, 16]);
    expect(d0.timings.unetCalls).toBe(0);
    const d5 = await generate(ckpt, { ...base, width: undefined, height: undefined, init, denoise: 0.5 });
    const d5b = await generate(ckpt, { ...base, width: undefined, height: undefined, init, denoise: 0.5 });
    expect(same(d5.images[0], d5b.images[0])).toBe(true);
    expect(same(d5.images[0], d0.images[0])).toBe(false);
    // 4 steps at denoise 0.5: the last 5 sigmas of an 8-step schedule, 4 model calls.
    expect(d5.timings.unetCalls).toBe(4);
  });

  for (const mode of ['vae-encode-for-inpaint', 'noise-mask'] as const) {
    it(`inpainting (${mode}): pixels outside the mask are unchanged, inside they change`, async () => {
      const init = pattern(16, 16, 3);
      const mask = createMask(16, 16);
      for (let y = 4; y < 12; y++) for (let x = 6; x < 14; x++) mask.data[y * 16 + x] = 1;
      const r = await generate(ckpt, { ...base, width: undefined, height: undefined, init, mask, growMaskBy: 2, inpaintMode: mode, denoise: mode === 'noise-mask' ? 0.8 : 1, batch: 2 });
      expect(r.settings.inpaintMode).toBe(mode);
      for (const img of r.images) {
        let inside = 0;
        for (let i = 0; i < 256; i++) {
          for (let c = 0; c < 3; c++) {
            if (mask.data[i] === 0) expect(img.data[i * 3 + c]).toBe(init.data[i * 3 + c]);
            else if (img.data[i * 3 + c] !== init.data[i * 3 + c]) inside++;
          }
        }
        expect(inside).toBeGreaterThan(64);
      }
      expect(same(r.images[0], r.images[1])).toBe(false);
    });
  }

  it('inpainting checkpoint (9-channel UNet): runs with mask + masked latent, refuses txt2img', async () => {
    const inp = loadCheckpoint(await writeTinyDiffusersCheckpoint(join(dir, 'tiny-inpaint'), { inpaint: true }), { cacheDir: false });
    try {
      expect(inp.isInpaint).toBe(true);
      const init = pattern(16, 16, 5);
      const mask: Mask = createMask(8, 8);
      mask.data.fill(1, 0, 32); // top half, given at half resolution (resized bilinearly)
      const r = await generate(inp, { ...base, width: undefined, height: undefined, init, mask, growMaskBy: 0 });
      // Upsampled bilinearly, the mask is soft on row 8 and exactly 0 from row 9 down.
      for (let i = 144; i < 256; i++) for (let c = 0; c < 3; c++) expect(r.images[0].data[i * 3 + c]).toBe(init.data[i * 3 + c]);
      await expect(generate(inp, base)).rejects.toThrow(/inpainting checkpoint/);
    } finally {
      await inp.release();
    }
  });

  it('ControlNet: strength 0 equals no ControlNet; strength 1 changes; two halves equal one whole', async () => {
    const hint = pattern(24, 24, 9);
    const zero = await generate(ckpt, { ...base, controlNets: [{ controlNet: cn, hint, strength: 0 }] });
    expect(same(zero.images[0], plain.images[0])).toBe(true);
    const full = await generate(ckpt, { ...base, controlNets: [{ controlNet: cn, hint, strength: 1 }] });
    expect(maxDiff(full.latent, plain.latent)).toBeGreaterThan(1e-3);
    const halves = await generate(ckpt, { ...base, controlNets: [{ controlNet: cn, hint, strength: 0.5 }, { controlNet: cn, hint, strength: 0.5 }] });
    expect(maxDiff(halves.latent, full.latent)).toBeLessThan(1e-4);
    // An empty percent window never applies the ControlNet: same as without (through the residual-input UNet).
    const never = await generate(ckpt, { ...base, controlNets: [{ controlNet: cn, hint, strength: 1, startPercent: 0.5, endPercent: 0.5 }] });
    expect(maxDiff(never.latent, plain.latent)).toBeLessThan(1e-4);
    // Guess mode gives the unconditional half no control: different from plain ControlNet.
    const guess = await generate(ckpt, { ...base, controlNets: [{ controlNet: cn, hint, strength: 1, guessMode: true }] });
    expect(maxDiff(guess.latent, full.latent)).toBeGreaterThan(1e-4);
  });

  it('sketch fidelity moves strength and end_percent together; 0 ignores the sketch', async () => {
    expect(sketchFidelity(0.75)).toEqual({ strength: 0.75, startPercent: 0, endPercent: 0.75 });
    expect(sketchFidelity(1, 2)).toEqual({ strength: 2, startPercent: 0, endPercent: 1 });
    expect(() => sketchFidelity(1.5)).toThrow(/sketch fidelity/);
    const hint = pattern(24, 24, 9);
    const f0 = await generate(ckpt, { ...base, controlNets: [{ controlNet: cn, hint, ...sketchFidelity(0) }] });
    expect(same(f0.images[0], plain.images[0])).toBe(true);
    const f5 = await generate(ckpt, { ...base, controlNets: [{ controlNet: cn, hint, ...sketchFidelity(0.5) }] });
    const f1 = await generate(ckpt, { ...base, controlNets: [{ controlNet: cn, hint, ...sketchFidelity(1) }] });
    expect(maxDiff(f5.latent, plain.latent)).toBeGreaterThan(0);
    expect(maxDiff(f1.latent, f5.latent)).toBeGreaterThan(0);
  });

  it('cancellation stops sampling early with the abort reason', async () => {
    const ac = new AbortController();
    const steps: number[] = [];
    const run = generate(ckpt, { ...base, steps: 12 }, {
      signal: ac.signal,
      onProgress: (p) => {
        if (p.stage !== 'sample') return;
        steps.push(p.step);
        if (p.step === 2) ac.abort(new Error('user cancelled'));
      },
    });
    await expect(run).rejects.toThrow(/user cancelled/);
    expect(Math.max(...steps)).toBeLessThan(4);
    const pre = new AbortController();
    pre.abort();
    await expect(generate(ckpt, base, { signal: pre.signal })).rejects.toThrow();
  });

  it('LoRA tags in the prompt are applied (kohya UNet + text encoder); strength 0 is a no-op; missing is an error', async () => {
    const loraDir = join(dir, 'loras');
    mkdirSync(loraDir, { recursive: true });
    const r = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.3 + s) * 0.5);
    await writeSafetensors(join(loraDir, 'ink.safetensors'), [
      { name: 'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight', dtype: 'F32', shape: [2, 32, 1, 1], data: r(64, 1) },
      { name: 'lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight', dtype: 'F32', shape: [32, 2, 1, 1], data: r(64, 2) },
      { name: 'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight', dtype: 'F32', shape: [2, 32], data: r(64, 3) },
      { name: 'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight', dtype: 'F32', shape: [32, 2], data: r(64, 4) },
    ]);
    const withLora = await generate(ckpt, { ...base, prompt: `${base.prompt} <lora:ink:0.8>`, lorasDirs: [loraDir] });
    expect(withLora.loras.unet?.patched).toEqual(['down_blocks.0.attentions.0.proj_in.weight']);
    expect(withLora.loras.text?.patched).toEqual(['text_model.encoder.layers.0.self_attn.q_proj.weight']);
    expect(same(withLora.images[0], plain.images[0])).toBe(false);
    const zero = await generate(ckpt, { ...base, prompt: `${base.prompt} <lora:ink:0>`, lorasDirs: [loraDir] });
    expect(same(zero.images[0], plain.images[0])).toBe(true);
    await expect(generate(ckpt, { ...base, prompt: 'x <lora:nope:1>', lorasDirs: [loraDir] })).rejects.toThrow(/LoRA "nope" not found/);
  });

  it('textual-inversion embeddings: embedding:name is spliced in; an unknown one is an error', async () => {
    mkdirSync(join(dir, 'embeddings'), { recursive: true });
    await writeSafetensors(join(dir, 'embeddings', 'inkstyle.safetensors'), [{ name: 'emb_params', dtype: 'F32', shape: [2, 32], data: Float32Array.from({ length: 64 }, (_, i) => Math.cos(i) * 0.3) }]);
    const e = await generate(ckpt, { ...base, prompt: 'embedding:inkstyle a cat on a mat' });
    expect(same(e.images[0], plain.images[0])).toBe(false);
    await expect(generate(ckpt, { ...base, prompt: 'embedding:missing cat' })).rejects.toThrow(/embedding "missing" not found/);
  });

  it('rejects bad requests with clear errors', async () => {
    await expect(generate(ckpt, { ...base, sampler: 'nope' })).rejects.toThrow(/unknown sampler "nope"/);
    await expect(generate(ckpt, { ...base, scheduler: 'weird' })).rejects.toThrow(/unknown scheduler/);
    await expect(generate(ckpt, { ...base, width: 15 })).rejects.toThrow(/multiples of 2/);
    await expect(generate(ckpt, { ...base, mask: createMask(16, 16, 1) })).rejects.toThrow(GenerateError);
    await expect(generate(ckpt, { ...base, seed: -1 })).rejects.toThrow(/seed/);
    await expect(generate(ckpt, { ...base, denoise: 1.5 })).rejects.toThrow(/denoise/);
    await expect(generate(ckpt, { ...base, clipSkip: 9 })).rejects.toThrow(/clip skip/);
    await expect(generate(ckpt, { ...base, prompt: '(x:inf)' })).rejects.toThrow(/bad prompt/);
    await expect(generate(ckpt, { ...base, controlNets: [{ controlNet: cn, hint: pattern(8, 8), startPercent: 0.8, endPercent: 0.2 }] })).rejects.toThrow(/start_percent/);
  });

  it('LDM single file: loads (family, prediction), generates; pickle checkpoints are refused', async () => {
    const file = await writeTinySingleFile(join(dir, 'tiny-vpred.safetensors'));
    const single = loadCheckpoint(file, { cacheDir: false, tokenizerDir: TOKENIZER_DIR });
    try {
      expect(single.format).toBe('single-file');
      expect(single.family).toBe('sd1');
      expect(single.prediction).toBe('v_prediction');
      expect(single.predictionReason).toBe('file name');
      const r = await generate(single, base);
      expect(r.latentShape).toEqual([1, 4, 8, 8]);
    } finally {
      await single.release();
    }
    const ckptFile = join(dir, 'model.ckpt');
    writeFileSync(ckptFile, Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0]));
    expect(() => loadCheckpoint(ckptFile)).toThrow(/refuses pickle checkpoints/);
    expect(() => loadCheckpoint(join(dir, 'nope.safetensors'))).toThrow(/checkpoint not found/);
  });
});
