// SDXL through the workflow on the tiny random-weight SDXL (golden/sdxl_pipeline, a diffusers folder):
// CheckpointLoaderSimple opens it, CLIPTextEncode / CLIPTextEncodeSDXL give SDXL conditioning, and the graph
// gives exactly generateSdxl()'s pixels for txt2img, img2img, explicit micro-conditioning and inkflow generate's inpainting graph.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createImage, decodeImage, encodePng, type Image } from '../../imaging/image.ts';
import { toComfyPrompt } from '../../pipelines/generate/comfyPrompt.ts';
import { loadSdxlCheckpoint, type SdxlCheckpoint } from '../../models/checkpoint/sdxlCheckpoint.ts';
import { generateSdxl, type SdxlGenerateRequest } from '../../pipelines/generate/sdxlGenerate.ts';
import { SDXL_GOLDEN, SDXL_TOKENIZER_DIR, writeTinySdxlControlNet, writeTinySdxlInpaint } from '../../pipelines/generate/tinySdxlCheckpoint.ts';
import { openControlNet } from '../../models/checkpoint/controlNetRunner.ts';
import { tempWorkflowEnv } from '../../../test/workflow/transcripts.ts';
import type { ApiPrompt, JobOutcome } from '../api.ts';
import { createExecutor } from '../executor.ts';

const env = { ...tempWorkflowEnv(['checkpoints', 'controlnet']), tokenizerDir: SDXL_TOKENIZER_DIR };
const executor = createExecutor(env);
let xl: SdxlCheckpoint;

const base: SdxlGenerateRequest = { prompt: 'a photo of an astronaut riding a horse on mars', negative: 'blurry, low quality', seed: 42, steps: 3, sampler: 'euler', scheduler: 'normal', width: 64, height: 64, cfg: 5 };
const same = (a: Image, b: Image) => a.width === b.width && a.height === b.height && Buffer.from(a.data).equals(Buffer.from(b.data));

type Node = ApiPrompt[string];
/** CheckpointLoaderSimple → two encoders → latent → KSampler → VAEDecode → SaveImage. */
function graph(encode: (text: string) => Node, latent: Record<string, Node>, denoise = 1): ApiPrompt {
  return {
    1: { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'tiny_sdxl' } },
    2: encode(base.prompt),
    3: encode(base.negative!),
    ...latent,
    5: { class_type: 'KSampler', inputs: { model: ['1', 0], positive: ['2', 0], negative: ['3', 0], latent_image: ['4', 0], seed: 42, steps: 3, cfg: 5, sampler_name: 'euler', scheduler: 'normal', denoise } },
    6: { class_type: 'VAEDecode', inputs: { samples: ['5', 0], vae: ['1', 2] } },
    7: { class_type: 'SaveImage', inputs: { images: ['6', 0], filename_prefix: 'xl' } },
  };
}
const clipText = (text: string): Node => ({ class_type: 'CLIPTextEncode', inputs: { text, clip: ['1', 1] } });
const empty = { 4: { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } } };

async function run(prompt: ApiPrompt): Promise<{ out: JobOutcome; images: Image[] }> {
  const out = await executor.run({ promptId: `p${Math.random()}`, prompt }, { signal: new AbortController().signal, emit: () => undefined });
  const saved = Object.values(out.outputs).flatMap((o) => (o.images as { filename: string; subfolder: string }[]) ?? []);
  return { out, images: await Promise.all(saved.map((s) => decodeImage(readFileSync(join(env.outputDir, s.subfolder, s.filename)), 3))) };
}

beforeAll(() => {
  // The golden folder minus its test tensors is the tiny SDXL as a user's diffusers checkpoint.
  cpSync(SDXL_GOLDEN, join(env.modelDirs.checkpoints[0], 'tiny_sdxl'), { recursive: true, filter: (p) => !/[\\/](tensors|inputs)$/.test(p) });
  xl = loadSdxlCheckpoint(SDXL_GOLDEN, { tokenizerDir: SDXL_TOKENIZER_DIR });
});
afterAll(async () => {
  await xl?.release();
  executor.free({ unloadModels: true, freeMemory: true });
});

describe('SDXL workflow (tiny SDXL)', () => {
  it('txt2img with CLIPTextEncode: exactly generateSdxl()\'s pixels', async () => {
    const { out, images } = await run(graph(clipText, empty));
    expect(out.status).toBe('success');
    const want = await generateSdxl(xl, base);
    expect(images).toHaveLength(1);
    expect(same(images[0], want.images[0])).toBe(true);
  });

  it('img2img (LoadImage → VAEEncode, denoise 0.5): exactly generateSdxl()\'s pixels', async () => {
    const init = await decodeImage(join(SDXL_GOLDEN, 'inputs', 'img2img_init.png'), 3);
    writeFileSync(join(env.inputDir, 'init.png'), await encodePng(init));
    const latent = {
      8: { class_type: 'LoadImage', inputs: { image: 'init.png' } },
      4: { class_type: 'VAEEncode', inputs: { pixels: ['8', 0], vae: ['1', 2] } },
    };
    const { out, images } = await run(graph(clipText, latent, 0.5));
    expect(out.status).toBe('success');
    const want = await generateSdxl(xl, { ...base, width: undefined, height: undefined, init, denoise: 0.5 });
    expect(same(images[0], want.images[0])).toBe(true);
    const txt = await generateSdxl(xl, base);
    expect(same(images[0], txt.images[0])).toBe(false);
  });

  it('CLIPTextEncodeSDXL: the image size as micro-conditioning equals CLIPTextEncode; an original size of 1024 changes the image as generateSdxl\'s', async () => {
    const sdxlText = (size: number) => (text: string): Node => ({
      class_type: 'CLIPTextEncodeSDXL',
      inputs: { clip: ['1', 1], width: size, height: size, crop_w: 0, crop_h: 0, target_width: 64, target_height: 64, text_g: text, text_l: text },
    });
    const plain = (await run(graph(clipText, empty))).images[0];
    expect(same((await run(graph(sdxlText(64), empty))).images[0], plain)).toBe(true);
    const big = (await run(graph(sdxlText(1024), empty))).images[0];
    expect(same(big, plain)).toBe(false);
    const want = await generateSdxl(xl, { ...base, micro: { width: 1024, height: 1024 } });
    expect(same(big, want.images[0])).toBe(true);
  });

  it('inpainting as inkflow generate builds it (VAEEncodeForInpaint, paste back): exactly generateSdxl()\'s pixels', async () => {
    const init = await decodeImage(join(SDXL_GOLDEN, 'inputs', 'img2img_init.png'), 3);
    writeFileSync(join(env.inputDir, 'base.png'), await encodePng(init));
    const m = createImage(64, 64, 1);
    for (let y = 0; y < 32; y++) m.data.fill(255, y * 64, y * 64 + 64);
    writeFileSync(join(env.inputDir, 'mask.png'), await encodePng(m));
    const prompt = toComfyPrompt({
      model: 'tiny_sdxl', prompt: base.prompt, negative: base.negative!, seed: '42', steps: 3, cfg: 5, sampler: 'euler', scheduler: 'normal',
      width: 64, height: 64, batch: 1, denoise: 1, clipSkip: 1, loras: [], controlNets: [], init: 'base.png', mask: 'mask.png', inpaintMode: 'vae-encode-for-inpaint', growMaskBy: 6,
    });
    const { out, images } = await run(prompt);
    expect(out.status).toBe('success');
    const mask = { width: 64, height: 64, data: Float32Array.from(m.data, (v) => v / 255) };
    const want = await generateSdxl(xl, { ...base, width: undefined, height: undefined, init, mask, growMaskBy: 6, inpaintMode: 'vae-encode-for-inpaint' });
    expect(same(images[0], want.images[0])).toBe(true);
    // Below the grown mask the original pixels are back.
    expect(Buffer.from(images[0].data.subarray(40 * 64 * 3)).equals(Buffer.from(init.data.subarray(40 * 64 * 3)))).toBe(true);
    expect(same(images[0], init)).toBe(false);
  });

  it('SDXL ControlNet: ControlNetLoader + Apply ControlNet (Advanced) give generateSdxl()\'s pixels; ControlNetApply on the positive prompt controls only the conditional half', async () => {
    const cnDir = await writeTinySdxlControlNet(join(env.modelDirs.controlnet[0], 'tiny_sdxl_cn'));
    const hint = createImage(64, 64, 3);
    for (let i = 0; i < 64 * 64; i++) hint.data.fill(i % 64 < 24 ? 255 : 0, i * 3, i * 3 + 3);
    writeFileSync(join(env.inputDir, 'hint.png'), await encodePng(hint));
    const withControl = (advanced: boolean): ApiPrompt => {
      const g = graph(clipText, empty);
      g[10] = { class_type: 'ControlNetLoader', inputs: { control_net_name: 'tiny_sdxl_cn' } };
      g[11] = { class_type: 'LoadImage', inputs: { image: 'hint.png' } };
      if (advanced) {
        g[12] = { class_type: 'ControlNetApplyAdvanced', inputs: { positive: ['2', 0], negative: ['3', 0], control_net: ['10', 0], image: ['11', 0], strength: 0.8, start_percent: 0, end_percent: 0.7 } };
        g[5].inputs = { ...g[5].inputs, positive: ['12', 0], negative: ['12', 1] };
      } else {
        g[12] = { class_type: 'ControlNetApply', inputs: { conditioning: ['2', 0], control_net: ['10', 0], image: ['11', 0], strength: 0.8 } };
        g[5].inputs = { ...g[5].inputs, positive: ['12', 0] };
      }
      return g;
    };
    const adv = await run(withControl(true));
    expect(adv.out.status).toBe('success');
    const old = await run(withControl(false));
    expect(old.out.status).toBe('success');
    const cn = openControlNet(cnDir, { cacheDir: false });
    try {
      const want = await generateSdxl(xl, { ...base, controlNets: [{ controlNet: cn, hint, strength: 0.8, endPercent: 0.7 }] });
      expect(same(adv.images[0], want.images[0])).toBe(true);
      const condOnly = await generateSdxl(xl, { ...base, controlNets: [{ controlNet: cn, hint, strength: 0.8, uncond: false }] });
      expect(same(old.images[0], condOnly.images[0])).toBe(true);
      const both = await generateSdxl(xl, { ...base, controlNets: [{ controlNet: cn, hint, strength: 0.8 }] });
      expect(same(condOnly.images[0], both.images[0])).toBe(false);
    } finally {
      await cn.release();
    }
  });

  it('9-channel SDXL inpainting checkpoint: VAEEncodeForInpaint and InpaintModelConditioning graphs give generateSdxl()\'s pixels', async () => {
    const inpaintDir = await writeTinySdxlInpaint(join(env.modelDirs.checkpoints[0], 'tiny_sdxl_inpaint'));
    const init = await decodeImage(join(SDXL_GOLDEN, 'inputs', 'img2img_init.png'), 3);
    writeFileSync(join(env.inputDir, 'ibase.png'), await encodePng(init));
    const m = createImage(64, 64, 1);
    for (let y = 16; y < 48; y++) m.data.fill(255, y * 64 + 8, y * 64 + 40);
    writeFileSync(join(env.inputDir, 'imask.png'), await encodePng(m));
    const mask = { width: 64, height: 64, data: Float32Array.from(m.data, (v) => v / 255) };
    const ckpt = loadSdxlCheckpoint(inpaintDir, { tokenizerDir: SDXL_TOKENIZER_DIR, cacheDir: false });
    try {
      // inkflow generate's graph (VAEEncodeForInpaint, paste back).
      const prompt = toComfyPrompt({
        model: 'tiny_sdxl_inpaint', prompt: base.prompt, negative: base.negative!, seed: '42', steps: 3, cfg: 5, sampler: 'euler', scheduler: 'normal',
        width: 64, height: 64, batch: 1, denoise: 1, clipSkip: 1, loras: [], controlNets: [], init: 'ibase.png', mask: 'imask.png', inpaintMode: 'vae-encode-for-inpaint', growMaskBy: 6,
      });
      const a = await run(prompt);
      expect(a.out.status).toBe('success');
      const wantA = await generateSdxl(ckpt, { ...base, width: undefined, height: undefined, init, mask, growMaskBy: 6, inpaintMode: 'vae-encode-for-inpaint' });
      expect(same(a.images[0], wantA.images[0])).toBe(true);
      // InpaintModelConditioning (noise_mask on): the image encoded as it is, the greyed image and mask as the extra channels.
      const g = graph(clipText, {
        8: { class_type: 'LoadImage', inputs: { image: 'ibase.png' } },
        9: { class_type: 'LoadImageMask', inputs: { image: 'imask.png', channel: 'red' } },
        10: { class_type: 'InpaintModelConditioning', inputs: { positive: ['2', 0], negative: ['3', 0], vae: ['1', 2], pixels: ['8', 0], mask: ['9', 0], noise_mask: true } },
      }, 0.6);
      g[1].inputs.ckpt_name = 'tiny_sdxl_inpaint';
      g[5].inputs = { ...g[5].inputs, positive: ['10', 0], negative: ['10', 1], latent_image: ['10', 2] };
      const b = await run(g);
      expect(b.out.status).toBe('success');
      const wantB = await generateSdxl(ckpt, { ...base, width: undefined, height: undefined, init, mask, growMaskBy: 0, denoise: 0.6, inpaintMode: 'noise-mask' });
      // generateSdxl pastes the original back outside the mask; inside it, the two must agree exactly.
      for (let y = 16; y < 48; y++) {
        const row = (img: Image) => Buffer.from(img.data.subarray((y * 64 + 8) * 3, (y * 64 + 40) * 3));
        expect(row(b.images[0]).equals(row(wantB.images[0]))).toBe(true);
      }
      expect(same(b.images[0], a.images[0])).toBe(false);
    } finally {
      await ckpt.release();
    }
  });

  it('refuses what SDXL does not support yet with a clear error: CLIPSetLastLayer, the refiner encoder on a base model, a request over the memory budget', async () => {
    const skipped = graph((text) => ({ class_type: 'CLIPTextEncode', inputs: { text, clip: ['9', 0] } }), { ...empty, 9: { class_type: 'CLIPSetLastLayer', inputs: { clip: ['1', 1], stop_at_clip_layer: -2 } } });
    const a = (await run(skipped)).out;
    expect(a.status).toBe('error');
    expect(JSON.stringify(a)).toMatch(/CLIPSetLastLayer is not supported with SDXL/);
    const refiner = (await run(graph((text) => ({ class_type: 'CLIPTextEncodeSDXLRefiner', inputs: { clip: ['1', 1], ascore: 6, width: 64, height: 64, text } }), empty))).out;
    expect(refiner.status).toBe('error');
    expect(JSON.stringify(refiner)).toMatch(/SDXL base checkpoint: use CLIPTextEncodeSDXL/);
    // The up-front memory check runs in KSampler too (not only in generateSdxl): refused with the estimate.
    process.env.INKFLOW_MAX_MEMORY_BYTES = String(2 ** 20);
    try {
      const big = (await run(graph(clipText, empty))).out;
      expect(big.status).toBe('error');
      expect(JSON.stringify(big)).toMatch(/SDXL 64×64, batch 1 with CFG needs about \d+(\.\d)? [MG]B even with one model resident at a time \(UNet .* weights/);
    } finally {
      delete process.env.INKFLOW_MAX_MEMORY_BYTES;
    }
  });
});
