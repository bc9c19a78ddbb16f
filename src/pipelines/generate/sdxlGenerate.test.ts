// SDXL end to end on the tiny random-weight SDXL of golden/sdxl_pipeline (64² image → 8² latent), loaded as a
// diffusers folder and as an sgm single file: conditioning (both towers, weights per tower, text_g/text_l,
// micro-conditioning), txt2img, img2img, inpainting, a full_adapter_xl T2I-Adapter, SDXL LoRA key maps.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImage, decodeImage, type Image } from '../../imaging/image.ts';
import { createMask } from '../../imaging/masks.ts';
import { parseT2IAdapterConfig } from '../../models/t2iAdapter/config.ts';
import { buildT2IAdapterGraph } from '../../models/t2iAdapter/load.ts';
import { randomWeights } from '../../graph/randomWeights.ts';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../../weights/safetensors.ts';
import { isSdxlCheckpoint, loadSdxlCheckpoint, type SdxlCheckpoint } from '../../models/checkpoint/sdxlCheckpoint.ts';
import { writeTinySingleFile } from './tinyCheckpoint.ts';
import { generateSdxl, type SdxlGenerateRequest } from './sdxlGenerate.ts';
import { sketchFidelity } from './controlNet.ts';
import { encodeSdxlPrompt, sdxlTimeIds } from './sdxlConditioning.ts';
import { SDXL_GOLDEN, SDXL_TOKENIZER_DIR, tinySdxlSingleFileOptions, writeTinySdxlLora, writeTinySdxlRefiner, writeTinySdxlSingleFile, writeTinyXlAdapter } from './tinySdxlCheckpoint.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-sdxl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base: SdxlGenerateRequest = { prompt: 'a photo of an astronaut riding a horse on mars', negative: 'blurry, low quality', seed: 42, steps: 3, sampler: 'euler', scheduler: 'normal', width: 64, height: 64, cfg: 5 };
const same = (a: Image, b: Image) => Buffer.from(a.data).equals(Buffer.from(b.data));
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};


describe('SDXL pipeline (tiny SDXL, folder and single file)', () => {
  let folder: SdxlCheckpoint;
  let single: SdxlCheckpoint;
  let plain: Awaited<ReturnType<typeof generateSdxl>>;

  beforeAll(async () => {
    folder = loadSdxlCheckpoint(SDXL_GOLDEN, { tokenizerDir: SDXL_TOKENIZER_DIR, cacheDir: false });
    single = loadSdxlCheckpoint(await writeTinySdxlSingleFile(join(dir, 'tiny_sdxl.safetensors')), { ...tinySdxlSingleFileOptions(), cacheDir: false });
    plain = await generateSdxl(folder, base);
  });
  afterAll(async () => {
    await folder?.release();
    await single?.release();
  });

  it('txt2img: 64×64 image, one UNet call per step, deterministic, seed-sensitive', async () => {
    expect([plain.images[0].width, plain.images[0].height]).toEqual([64, 64]);
    expect(plain.latentShape).toEqual([1, 4, 8, 8]);
    expect(plain.timings.unetCalls).toBe(3);
    expect(same((await generateSdxl(folder, base)).images[0], plain.images[0])).toBe(true);
    expect(same((await generateSdxl(folder, { ...base, seed: 43 })).images[0], plain.images[0])).toBe(false);
  });

  it('the single file gives the folder\'s conditioning and image', async () => {
    const a = await encodeSdxlPrompt(folder, { g: base.prompt });
    const b = await encodeSdxlPrompt(single, { g: base.prompt });
    expect(maxDiff(a.context.data, b.context.data)).toBeLessThan(1e-6);
    expect(maxDiff(a.pooled, b.pooled)).toBeLessThan(1e-6);
    const r = await generateSdxl(single, base);
    expect(maxDiff(r.latent, plain.latent)).toBeLessThan(1e-5);
    // A fine-tune storing bigG's projection as a Linear weight (`text_projection.weight`) pools the same.
    const linear = loadSdxlCheckpoint(await writeTinySdxlSingleFile(join(dir, 'tiny_sdxl_linear.safetensors'), { linearProjection: true }), { ...tinySdxlSingleFileOptions(), cacheDir: false });
    try {
      expect(maxDiff((await encodeSdxlPrompt(linear, { g: base.prompt })).pooled, a.pooled)).toBeLessThan(1e-6);
    } finally {
      await linear.release();
    }
  });

  it('conditioning: 77 × (32 ‖ 32) context; weights move only weighted tokens; pooled stays the unweighted first window', async () => {
    const p = await encodeSdxlPrompt(folder, { g: 'a photo of an astronaut' });
    const w = await encodeSdxlPrompt(folder, { g: 'a photo of an (astronaut:1.5)' });
    expect([p.context.tokens, p.context.hidden, p.pooled.length]).toEqual([77, 64, 32]);
    expect(w.pooled).toEqual(p.pooled);
    const rowDiff = (t: number) => maxDiff(p.context.data.subarray(t * 64, (t + 1) * 64), w.context.data.subarray(t * 64, (t + 1) * 64));
    // BOS a photo of an astronaut EOS: only position 5 (astronaut) is weighted.
    expect([0, 1, 2, 3, 4, 6].map(rowDiff)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(rowDiff(5)).toBeGreaterThan(1e-3);
  });

  it('text_l feeds the first 32 channels (ViT-L), text_g the last 32 and the pooled output', async () => {
    const a = await encodeSdxlPrompt(folder, { g: 'a red house', l: 'a red house' });
    const b = await encodeSdxlPrompt(folder, { g: 'a red house', l: 'a blue boat' });
    const half = (c: Float32Array, lo: number) => Float32Array.from({ length: 77 * 32 }, (_, i) => c[Math.floor(i / 32) * 64 + lo + (i % 32)]);
    expect(half(b.context.data, 32)).toEqual(half(a.context.data, 32));
    expect(b.pooled).toEqual(a.pooled);
    expect(maxDiff(half(a.context.data, 0), half(b.context.data, 0))).toBeGreaterThan(1e-3);
    // Window counts are balanced with empty windows (ComfyUI): a long l prompt gives both sides 2 windows.
    const long = await encodeSdxlPrompt(folder, { g: 'cat', l: Array(90).fill('cat').join(' ') });
    expect(long.context.tokens).toBe(154);
  });

  it('micro-conditioning: ComfyUI defaults and explicit sizes reach the UNet', async () => {
    expect(Array.from(sdxlTimeIds(folder, 1024, 768))).toEqual([768, 1024, 0, 0, 768, 1024]);
    expect(Array.from(sdxlTimeIds(folder, 64, 64, { width: 96, height: 128, cropW: 4, cropH: 8, targetWidth: 64, targetHeight: 64 }))).toEqual([128, 96, 8, 4, 64, 64]);
    expect(Array.from(sdxlTimeIds({ kind: 'refiner' }, 64, 64))).toEqual([64, 64, 0, 0, 6]);
    expect(Array.from(sdxlTimeIds({ kind: 'refiner' }, 64, 64, {}, true))).toEqual([64, 64, 0, 0, 2.5]);
    const r = await generateSdxl(folder, { ...base, micro: { width: 1024, height: 1024 } });
    expect(maxDiff(r.latent, plain.latent)).toBeGreaterThan(1e-4);
  });

  it('img2img and noise-mask inpainting (pixels outside the mask unchanged)', async () => {
    const init = await decodeImage(join(SDXL_GOLDEN, 'inputs', 'img2img_init.png'), 3);
    const i2i = await generateSdxl(folder, { ...base, init, denoise: 0.5 });
    expect(i2i.timings.unetCalls).toBe(3); // ComfyUI: denoise stretches the schedule, the step count stays
    expect(same(i2i.images[0], plain.images[0])).toBe(false);
    const mask = createMask(64, 64);
    for (let y = 16; y < 48; y++) for (let x = 16; x < 48; x++) mask.data[y * 64 + x] = 1;
    const inp = await generateSdxl(folder, { ...base, init, mask, denoise: 0.8 });
    for (const [x, y] of [[0, 0], [63, 63], [5, 40]]) {
      const k = (y * 64 + x) * 3;
      expect(Array.from(inp.images[0].data.subarray(k, k + 3))).toEqual(Array.from(init.data.subarray(k, k + 3)));
    }
  });

  it('sketch-to-image with a full_adapter_xl T2I-Adapter: features reach the UNet, scale 0 is a no-op', async () => {
    const adapter = await writeTinyXlAdapter(join(dir, 'adapter_xl'));
    const sketch = createImage(64, 64, 3);
    for (let i = 0; i < 64 * 64; i++) sketch.data.fill((i % 64) > 32 ? 255 : 0, i * 3, i * 3 + 3);
    const on = await generateSdxl(folder, { ...base, adapters: [{ path: adapter, image: sketch, scale: 1 }] }, { compile: { cacheDir: false } });
    const off = await generateSdxl(folder, { ...base, adapters: [{ path: adapter, image: sketch, scale: 0 }] }, { compile: { cacheDir: false } });
    expect(maxDiff(on.latent, plain.latent)).toBeGreaterThan(1e-4);
    expect(maxDiff(off.latent, plain.latent)).toBeLessThan(1e-6);
    // ComfyUI step range (the sketch-fidelity slider moves scale and end_percent together): end 0 applies it at
    // no step, end 0.5 only on the early (high-σ) steps — different from both.
    const fid = sketchFidelity(0.5);
    const none = await generateSdxl(folder, { ...base, adapters: [{ path: adapter, image: sketch, scale: 1, endPercent: 0 }] }, { compile: { cacheDir: false } });
    const half = await generateSdxl(folder, { ...base, adapters: [{ path: adapter, image: sketch, scale: 1, startPercent: fid.startPercent, endPercent: fid.endPercent }] }, { compile: { cacheDir: false } });
    expect(maxDiff(none.latent, plain.latent)).toBeLessThan(1e-6);
    expect(maxDiff(half.latent, plain.latent)).toBeGreaterThan(1e-5);
    expect(maxDiff(half.latent, on.latent)).toBeGreaterThan(1e-5);
    await expect(generateSdxl(folder, { ...base, adapters: [{ path: adapter, image: sketch, startPercent: 0.8, endPercent: 0.2 }] })).rejects.toThrow(/start\/end percent/);
  });

  it('light_adapter on SDXL: refused with the shapes, since SDXL injects levels 0 and 1 at one size and a light adapter halves between them', async () => {
    const raw = { _class_name: 'T2IAdapter', adapter_type: 'light_adapter', channels: [16, 32], in_channels: 3, downscale_factor: 8, num_res_blocks: 1 };
    const g = buildT2IAdapterGraph(parseT2IAdapterConfig(raw), { batch: 1, height: 64, width: 64 });
    const store = randomWeights(g, { seed: 9, std: 0.2 });
    const path = join(dir, 'light_adapter');
    mkdirSync(path, { recursive: true });
    writeFileSync(join(path, 'config.json'), JSON.stringify(raw));
    await writeSafetensors(join(path, 'diffusion_pytorch_model.safetensors'), [...g.params.keys()].map((name) => {
      const p = store.get(name)!;
      return { name, dtype: 'F32' as const, shape: p.shape, data: new Float32Array(p.bytes.slice().buffer) };
    }));
    const sketch = createImage(64, 64, 3);
    await expect(generateSdxl(folder, { ...base, adapters: [{ path, image: sketch, scale: 1 }] }, { compile: { cacheDir: false } }))
      .rejects.toThrow(/T2I-Adapter \(light_adapter, channels 16\/32\) does not fit this UNet: its feature 1 is \[32,2,2\] but down level 1 \(CrossAttnDownBlock2D\) takes \[32,4,4\]/);
  });

  it('SDXL LoRA: lora_unet_ (LDM and diffusers names), lora_te1_, lora_te2_ patch their tensors; the stray module is reported', async () => {
    const lora = await writeTinySdxlLora(join(dir, 'tiny_sdxl_lora.safetensors'));
    const r = await generateSdxl(folder, { ...base, loras: [{ path: lora, strengthModel: 1, strengthClip: 1 }] });
    expect(maxDiff(r.latent, plain.latent)).toBeGreaterThan(1e-4);
    expect(r.loras.unet!.patched.sort()).toEqual(['down_blocks.1.attentions.0.proj_in.weight', 'up_blocks.0.attentions.1.transformer_blocks.0.attn2.to_k.weight']);
    expect(r.loras.text!.patched.sort()).toEqual(['text_model.encoder.layers.0.self_attn.q_proj.weight', 'text_model.encoder.layers.1.mlp.fc1.weight']);
    expect(r.loras.unet!.unmatched.filter((k) => !/lora_te/.test(k))).toEqual([`${lora}: lora_unet_no_such_block`]);
    const none = await generateSdxl(folder, { ...base, loras: [{ path: lora, strengthModel: 0, strengthClip: 0 }] });
    expect(maxDiff(none.latent, plain.latent)).toBe(0);
  });

  it('SDXL LoRA in diffusers/PEFT form (unet., text_encoder., text_encoder_2. with lora_A/lora_B)', async () => {
    const peft = (name: string, out: number, inF: number): TensorToWrite[] => [
      { name: `${name}.lora_A.weight`, dtype: 'F32', shape: [2, inF], data: Float32Array.from({ length: 2 * inF }, (_, i) => Math.sin(i) * 0.3) },
      { name: `${name}.lora_B.weight`, dtype: 'F32', shape: [out, 2], data: Float32Array.from({ length: out * 2 }, (_, i) => Math.cos(i) * 0.3) },
    ];
    const path = join(dir, 'tiny_sdxl_peft.safetensors');
    await writeSafetensors(path, [
      ...peft('unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q', 32, 32),
      ...peft('text_encoder.text_model.encoder.layers.1.self_attn.v_proj', 32, 32),
      ...peft('text_encoder_2.text_model.encoder.layers.2.self_attn.out_proj', 32, 32),
    ]);
    const view = folder.withLoras([{ path, strengthModel: 1, strengthClip: 1 }]);
    try {
      await view.useUNet();
      await view.useTextEncoders();
      const r = view.loraReport();
      expect(r.unet!.patched).toEqual(['down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.weight']);
      expect(r.te1!.patched).toEqual(['text_model.encoder.layers.1.self_attn.v_proj.weight']);
      expect(r.te2!.patched).toEqual(['text_model.encoder.layers.2.self_attn.out_proj.weight']);
      // Each tower reports the other tower's module as unmatched; generateSdxl merges the two reports.
      expect(r.te1!.unmatched).toEqual(expect.arrayContaining([`${path}: text_encoder_2.text_model.encoder.layers.2.self_attn.out_proj`]));
    } finally {
      await view.release();
    }
  });

  it('isSdxlCheckpoint tells SDXL folders and files from SD1 ones (for dispatching generate)', async () => {
    expect(isSdxlCheckpoint(SDXL_GOLDEN)).toBe(true);
    expect(isSdxlCheckpoint(single.path)).toBe(true);
    expect(isSdxlCheckpoint(await writeTinySingleFile(join(dir, 'tiny_sd1.safetensors')))).toBe(false);
    expect(isSdxlCheckpoint(join(dir, 'missing'))).toBe(false);
  });

  it('refiner: bigG-only context, pooled + 5 time ids; the aesthetic score reaches the UNet', async () => {
    const refiner = loadSdxlCheckpoint(await writeTinySdxlRefiner(join(dir, 'tiny_refiner')), { tokenizerDir: SDXL_TOKENIZER_DIR, cacheDir: false });
    try {
      expect(refiner.kind).toBe('refiner');
      expect(refiner.textL).toBeUndefined();
      expect(refiner.unetConfig.addition).toMatchObject({ textEmbedDim: 32, timeIds: 5 });
      const c = await encodeSdxlPrompt(refiner, { g: base.prompt });
      expect([c.context.tokens, c.context.hidden]).toEqual([77, 32]);
      const full = await encodeSdxlPrompt(folder, { g: base.prompt });
      // The refiner's context is the bigG half of the base's (same tower weights here).
      expect(maxDiff(c.context.data, Float32Array.from({ length: 77 * 32 }, (_, i) => full.context.data[Math.floor(i / 32) * 64 + 32 + (i % 32)]))).toBeLessThan(1e-6);
      const init = await decodeImage(join(SDXL_GOLDEN, 'inputs', 'img2img_init.png'), 3);
      const a = await generateSdxl(refiner, { ...base, init, denoise: 0.3 });
      const b = await generateSdxl(refiner, { ...base, init, denoise: 0.3, micro: { aestheticScore: 9 } });
      expect([a.images[0].width, a.images[0].height]).toEqual([64, 64]);
      expect(maxDiff(a.latent, b.latent)).toBeGreaterThan(1e-5);
    } finally {
      await refiner.release();
    }
  });

  it('embedding:name splices clip_l vectors into ViT-L and clip_g vectors into bigG', async () => {
    // An embedding whose vectors are the token rows of "astronaut" must encode exactly like the word.
    const row = (file: string, id: number) => {
      const r = openSafetensors(join(SDXL_GOLDEN, file));
      try {
        const t = r.readF32('text_model.embeddings.token_embedding.weight');
        return t.slice(id * 32, (id + 1) * 32);
      } finally {
        r.close();
      }
    };
    const astronaut = 18376;
    const embDir = join(dir, 'embeddings');
    mkdirSync(embDir, { recursive: true });
    await writeSafetensors(join(embDir, 'astro.safetensors'), [
      { name: 'clip_l', dtype: 'F32', shape: [1, 32], data: row('text_encoder/model.safetensors', astronaut) },
      { name: 'clip_g', dtype: 'F32', shape: [1, 32], data: row('text_encoder_2/model.safetensors', astronaut) },
    ]);
    const ckpt = loadSdxlCheckpoint(SDXL_GOLDEN, { tokenizerDir: SDXL_TOKENIZER_DIR, cacheDir: false, embeddingsDirs: [embDir] });
    try {
      const word = await encodeSdxlPrompt(ckpt, { g: 'a photo of an astronaut' });
      const emb = await encodeSdxlPrompt(ckpt, { g: 'a photo of an embedding:astro' });
      expect(maxDiff(emb.context.data, word.context.data)).toBeLessThan(1e-6);
      expect(maxDiff(emb.pooled, word.pooled)).toBeLessThan(1e-6);
      const other = await encodeSdxlPrompt(ckpt, { g: 'a photo of an horse' });
      expect(maxDiff(other.context.data, word.context.data)).toBeGreaterThan(1e-3);
    } finally {
      await ckpt.release();
    }
  });

  it('refuses what it cannot do, clearly', async () => {
    await expect(generateSdxl(folder, { ...base, width: 60 })).rejects.toThrow(/multiples of 8/);
    await expect(generateSdxl(folder, { ...base, prompt: 'embedding:foo' })).rejects.toThrow(/embedding "foo" not found/);
    expect(() => loadSdxlCheckpoint(join(dir, 'nope.safetensors'))).toThrow(/not found/);
    await expect(generateSdxl(folder, base, { memoryBudgetBytes: 2 ** 20 })).rejects.toThrow(/needs about .* (GB|MB) even with one model resident at a time .* budget is 1 MB/);
  });
});
