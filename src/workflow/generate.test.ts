// Generation as a workflow on the tiny checkpoint: the node graph a ComfyUI user builds gives exactly the
// pixels of the generate() pipeline (txt2img, img2img + ControlNet, inpainting), reports every sampler
// step with a preview, is cached when resubmitted and stops mid-sampling on abort.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createImage, decodeImage, encodePng, type Image } from '../imaging/image.ts';
import { loadCheckpoint, type Checkpoint } from '../models/checkpoint/loadCheckpoint.ts';
import { openControlNet, type ControlNetRunner } from '../models/checkpoint/controlNetRunner.ts';
import { generate, type GenerateRequest } from '../pipelines/generate/generate.ts';
import { toComfyPrompt, type GenerationRecord } from '../pipelines/generate/comfyPrompt.ts';
import { TINY_CONTROLNET, TOKENIZER_DIR, writeTinyDiffusersCheckpoint } from '../pipelines/generate/tinyCheckpoint.ts';
import { tempWorkflowEnv } from '../../test/workflow/transcripts.ts';
import { writeSafetensors } from '../weights/safetensors.ts';
import type { ApiPrompt, ExecutionEvent, JobOutcome } from './api.ts';
import { createExecutor } from './executor.ts';

const env = { ...tempWorkflowEnv(['checkpoints', 'loras', 'controlnet']), tokenizerDir: TOKENIZER_DIR };
env.modelDirs.controlnet = [join(TINY_CONTROLNET, '..')];
const executor = createExecutor(env);
let ckpt: Checkpoint;
let cn: ControlNetRunner;

function pattern(w: number, h: number, seed = 1): Image {
  const img = createImage(w, h, 3);
  for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 37 + seed * 101 + ((i * i) % 17)) & 255;
  return img;
}

const record = (r: Partial<GenerationRecord>): GenerationRecord => ({
  model: 'tiny', prompt: 'a cat on a mat', negative: 'blurry', seed: '42', steps: 3, cfg: 7, sampler: 'euler', scheduler: 'normal',
  width: 16, height: 16, batch: 1, denoise: 1, clipSkip: 1, loras: [], controlNets: [], ...r,
});

async function runPrompt(prompt: ApiPrompt, events: ExecutionEvent[] = [], signal = new AbortController().signal): Promise<{ out: JobOutcome; images: Image[] }> {
  const out = await executor.run({ promptId: `p${Math.random()}`, prompt }, { signal, emit: (e) => events.push(e) });
  const saved = Object.values(out.outputs).flatMap((o) => (o.images as { filename: string; subfolder: string }[]) ?? []);
  const images = await Promise.all(saved.map((s) => decodeImage(readFileSync(join(env.outputDir, s.subfolder, s.filename)), 3)));
  return { out, images };
}

const same = (a: Image, b: Image) => Buffer.from(a.data).equals(Buffer.from(b.data));

beforeAll(async () => {
  const path = await writeTinyDiffusersCheckpoint(join(env.modelDirs.checkpoints[0], 'tiny'));
  ckpt = loadCheckpoint(path, { tokenizerDir: TOKENIZER_DIR });
  cn = openControlNet(TINY_CONTROLNET);
});
afterAll(async () => {
  await ckpt?.release();
  await cn?.release();
  executor.free({ unloadModels: true, freeMemory: true });
});

describe('generation workflow (tiny checkpoint)', () => {
  const req: GenerateRequest = { prompt: 'a cat on a mat', negative: 'blurry', seed: 42, steps: 3, sampler: 'euler', scheduler: 'normal', width: 16, height: 16, cfg: 7 };

  it('txt2img: the ComfyUI graph gives generate()\'s pixels, with a progress event and preview per step', async () => {
    const events: ExecutionEvent[] = [];
    const { out, images } = await runPrompt(toComfyPrompt(record({})), events);
    expect(out.status).toBe('success');
    const want = await generate(ckpt, req);
    expect(same(images[0], want.images[0])).toBe(true);
    const progress = events.filter((e) => e.type === 'progress').map((e) => (e as unknown as { data: { value: number; max: number } }).data);
    expect(progress).toEqual([1, 2, 3].map((value) => expect.objectContaining({ value, max: 3 })));
    await new Promise((r) => setTimeout(r, 50));
    expect(events.filter((e) => e.type === 'preview').length).toBeGreaterThanOrEqual(1);
  });

  it('a resubmitted generation is answered from the cache', async () => {
    const events: ExecutionEvent[] = [];
    const prompt = toComfyPrompt(record({}));
    await runPrompt(prompt, events);
    const cached = events.find((e) => e.type === 'execution_cached') as unknown as { data: { nodes: string[] } };
    expect(cached.data.nodes).toEqual(Object.keys(prompt));
    expect(events.some((e) => e.type === 'progress')).toBe(false);
  });

  it('img2img + ControlNet and batch 2: same pixels as generate()', async () => {
    const init = pattern(16, 16, 3);
    writeFileSync(join(env.inputDir, 'init.png'), await encodePng(init));
    const prompt = toComfyPrompt(record({ init: 'init.png', denoise: 0.6, batch: 2, controlNets: [{ path: basename(TINY_CONTROLNET), hint: 'init.png', strength: 0.8, startPercent: 0, endPercent: 0.75 }] }));
    const { out, images } = await runPrompt(prompt);
    expect(out.status).toBe('success');
    const want = await generate(ckpt, { ...req, width: undefined, height: undefined, init, denoise: 0.6, batch: 2, controlNets: [{ controlNet: cn, hint: init, strength: 0.8, startPercent: 0, endPercent: 0.75 }] });
    expect(images).toHaveLength(2);
    images.forEach((img, i) => expect(same(img, want.images[i])).toBe(true));
  });

  it('inpainting (VAEEncodeForInpaint + paste back): same pixels as generate(), outside the mask untouched', async () => {
    const init = pattern(16, 16, 5);
    writeFileSync(join(env.inputDir, 'base.png'), await encodePng(init));
    const m = createImage(16, 16, 1);
    for (let y = 0; y < 8; y++) m.data.fill(255, y * 16, y * 16 + 16);
    writeFileSync(join(env.inputDir, 'mask.png'), await encodePng(m));
    const prompt = toComfyPrompt(record({ init: 'base.png', mask: 'mask.png', inpaintMode: 'vae-encode-for-inpaint', growMaskBy: 6 }));
    const { images } = await runPrompt(prompt);
    const mask = { width: 16, height: 16, data: Float32Array.from(m.data, (v) => v / 255) };
    const want = await generate(ckpt, { ...req, width: undefined, height: undefined, init, mask, growMaskBy: 6, inpaintMode: 'vae-encode-for-inpaint' });
    expect(same(images[0], want.images[0])).toBe(true);
    expect(Buffer.from(images[0].data.subarray(128 * 3)).equals(Buffer.from(init.data.subarray(128 * 3)))).toBe(true);
  });

  it('KSamplerAdvanced over the whole schedule equals KSampler; split in two stages it continues the same trajectory', async () => {
    type Node = ApiPrompt[string];
    const graph = (sampler: Node, second?: Node): ApiPrompt => ({
      1: { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'tiny' } },
      2: { class_type: 'CLIPTextEncode', inputs: { text: 'a cat', clip: ['1', 1] } },
      3: { class_type: 'CLIPTextEncode', inputs: { text: 'blurry', clip: ['1', 1] } },
      4: { class_type: 'EmptyLatentImage', inputs: { width: 16, height: 16, batch_size: 1 } },
      5: { ...sampler, inputs: { ...sampler.inputs, model: ['1', 0], positive: ['2', 0], negative: ['3', 0], latent_image: ['4', 0] } },
      ...(second ? { 6: { ...second, inputs: { ...second.inputs, model: ['1', 0], positive: ['2', 0], negative: ['3', 0], latent_image: ['5', 0] } } } : {}),
      7: { class_type: 'VAEDecode', inputs: { samples: [second ? '6' : '5', 0], vae: ['1', 2] } },
      8: { class_type: 'SaveImage', inputs: { images: ['7', 0], filename_prefix: 'adv' } },
    });
    const common = { steps: 4, cfg: 7, sampler_name: 'euler', scheduler: 'normal' };
    const plain = (await runPrompt(graph({ class_type: 'KSampler', inputs: { ...common, seed: 9, denoise: 1 } }))).images[0];
    const adv = (await runPrompt(graph({ class_type: 'KSamplerAdvanced', inputs: { ...common, noise_seed: 9, add_noise: 'enable', start_at_step: 0, end_at_step: 10000, return_with_leftover_noise: 'disable' } }))).images[0];
    expect(same(adv, plain)).toBe(true);
    const split = (await runPrompt(graph(
      { class_type: 'KSamplerAdvanced', inputs: { ...common, noise_seed: 9, add_noise: 'enable', start_at_step: 0, end_at_step: 2, return_with_leftover_noise: 'enable' } },
      { class_type: 'KSamplerAdvanced', inputs: { ...common, noise_seed: 9, add_noise: 'disable', start_at_step: 2, end_at_step: 10000, return_with_leftover_noise: 'disable' } },
    ))).images[0];
    // The latent crosses the stages divided and multiplied by the latent scale in float32: a level at most.
    let worst = 0;
    for (let i = 0; i < split.data.length; i++) worst = Math.max(worst, Math.abs(split.data[i] - plain.data[i]));
    expect(worst).toBeLessThanOrEqual(1);
    const half = (await runPrompt(graph({ class_type: 'KSamplerAdvanced', inputs: { ...common, noise_seed: 9, add_noise: 'enable', start_at_step: 0, end_at_step: 2, return_with_leftover_noise: 'enable' } }))).images[0];
    expect(same(half, plain)).toBe(false);
  });

  it('ConditioningCombine: a prompt combined with itself samples as the prompt alone; two prompts land in between', async () => {
    const graph = (positive: unknown[], extra: ApiPrompt = {}): ApiPrompt => ({
      1: { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'tiny' } },
      2: { class_type: 'CLIPTextEncode', inputs: { text: 'a cat', clip: ['1', 1] } },
      3: { class_type: 'CLIPTextEncode', inputs: { text: 'blurry', clip: ['1', 1] } },
      4: { class_type: 'EmptyLatentImage', inputs: { width: 16, height: 16, batch_size: 1 } },
      6: { class_type: 'CLIPTextEncode', inputs: { text: 'a red house by the sea', clip: ['1', 1] } },
      ...extra,
      5: { class_type: 'KSampler', inputs: { seed: 4, steps: 3, cfg: 7, sampler_name: 'euler', scheduler: 'normal', denoise: 1, model: ['1', 0], positive, negative: ['3', 0], latent_image: ['4', 0] } },
      7: { class_type: 'VAEDecode', inputs: { samples: ['5', 0], vae: ['1', 2] } },
      8: { class_type: 'SaveImage', inputs: { images: ['7', 0], filename_prefix: 'combine' } },
    });
    const cat = (await runPrompt(graph(['2', 0]))).images[0];
    const house = (await runPrompt(graph(['6', 0]))).images[0];
    const self = (await runPrompt(graph(['9', 0], { 9: { class_type: 'ConditioningCombine', inputs: { conditioning_1: ['2', 0], conditioning_2: ['2', 0] } } }))).images[0];
    const both = (await runPrompt(graph(['9', 0], { 9: { class_type: 'ConditioningCombine', inputs: { conditioning_1: ['2', 0], conditioning_2: ['6', 0] } } }))).images[0];
    const dist = (a: Image, b: Image) => a.data.reduce((acc, v, i) => acc + Math.abs(v - b.data[i]), 0) / a.data.length;
    expect(dist(self, cat)).toBeLessThan(0.05);
    expect(dist(both, cat)).toBeGreaterThan(0);
    expect(dist(both, house)).toBeGreaterThan(0);
    expect(dist(both, cat) + dist(both, house)).toBeLessThan(dist(cat, house) * 1.5);
  });

  it('ConditioningSetArea through KSampler: an area over the whole latent gives the plain image, a corner area changes it', async () => {
    const graph = (positive: unknown[], extra: ApiPrompt = {}): ApiPrompt => ({
      1: { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'tiny' } },
      2: { class_type: 'CLIPTextEncode', inputs: { text: 'a cat', clip: ['1', 1] } },
      3: { class_type: 'CLIPTextEncode', inputs: { text: 'blurry', clip: ['1', 1] } },
      4: { class_type: 'EmptyLatentImage', inputs: { width: 32, height: 32, batch_size: 1 } },
      6: { class_type: 'CLIPTextEncode', inputs: { text: 'a red house by the sea', clip: ['1', 1] } },
      ...extra,
      5: { class_type: 'KSampler', inputs: { seed: 4, steps: 3, cfg: 7, sampler_name: 'euler', scheduler: 'normal', denoise: 1, model: ['1', 0], positive, negative: ['3', 0], latent_image: ['4', 0] } },
      7: { class_type: 'VAEDecode', inputs: { samples: ['5', 0], vae: ['1', 2] } },
      8: { class_type: 'SaveImage', inputs: { images: ['7', 0], filename_prefix: 'area' } },
    });
    // The tiny VAE halves: 32 px → a 16×16 latent; ConditioningSetArea counts ComfyUI's latent units (px // 8).
    const area = (x: number, y: number, w: number, h: number): ApiPrompt => ({
      9: { class_type: 'ConditioningSetArea', inputs: { conditioning: ['6', 0], width: w, height: h, x, y, strength: 1 } },
      10: { class_type: 'ConditioningCombine', inputs: { conditioning_1: ['2', 0], conditioning_2: ['9', 0] } },
    });
    const plain = (await runPrompt(graph(['2', 0]))).images[0];
    const full = (await runPrompt(graph(['9', 0], { 9: { class_type: 'ConditioningSetArea', inputs: { conditioning: ['2', 0], width: 128, height: 128, x: 0, y: 0, strength: 1 } } }))).images[0];
    expect(same(full, plain)).toBe(true);
    const corner = (await runPrompt(graph(['10', 0], area(64, 64, 64, 64)))).images[0];
    expect(same(corner, plain)).toBe(false);
  });

  it('LoraLoader merges a kohya LoRA into the UNet and text encoder and reports what it patched; strength 0 changes nothing', async () => {
    const r = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.3 + k) * 0.5);
    await writeSafetensors(join(env.modelDirs.loras[0], 'ink.safetensors'), [
      { name: 'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight', dtype: 'F32', shape: [2, 32, 1, 1], data: r(64, 1) },
      { name: 'lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight', dtype: 'F32', shape: [32, 2, 1, 1], data: r(64, 2) },
      { name: 'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight', dtype: 'F32', shape: [2, 32], data: r(64, 3) },
      { name: 'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight', dtype: 'F32', shape: [32, 2], data: r(64, 4) },
    ]);
    const plainPrompt = toComfyPrompt(record({ seed: '11' }));
    const plain = await runPrompt(plainPrompt);
    const tagged = toComfyPrompt(record({ seed: '11', prompt: 'a cat on a mat <lora:ink:0.8>' }));
    const withLora = await runPrompt(tagged);
    expect(same(withLora.images[0], plain.images[0])).toBe(false);
    const reports = Object.values(withLora.out.outputs).flatMap((o) => (o.lora_report as { unet?: { patched: string[] }; text?: { patched: string[] } }[] | undefined) ?? []);
    expect(reports.flatMap((x) => x.unet?.patched ?? [])).toContain('down_blocks.0.attentions.0.proj_in.weight');
    expect(reports.flatMap((x) => x.text?.patched ?? [])).toContain('text_model.encoder.layers.0.self_attn.q_proj.weight');
    const zero = await runPrompt(toComfyPrompt(record({ seed: '11', prompt: 'a cat on a mat <lora:ink:0>' })));
    expect(same(zero.images[0], plain.images[0])).toBe(true);
  });

  it('InkflowDetailer re-generates the masked box and leaves the rest of the image as it was', async () => {
    const base = pattern(32, 32, 9);
    writeFileSync(join(env.inputDir, 'panel.png'), await encodePng(base));
    const m = createImage(32, 32, 1);
    for (let y = 12; y < 20; y++) m.data.fill(255, y * 32 + 12, y * 32 + 20);
    writeFileSync(join(env.inputDir, 'face.png'), await encodePng(m));
    const { out, images } = await runPrompt({
      1: { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'tiny' } },
      2: { class_type: 'LoadImage', inputs: { image: 'panel.png' } },
      3: { class_type: 'LoadImageMask', inputs: { image: 'face.png', channel: 'red' } },
      4: { class_type: 'InkflowDetailer', inputs: { image: ['2', 0], model: ['1', 0], mask: ['3', 0], prompt: 'a face', negative: '', seed: 3, steps: 2, cfg: 7, sampler_name: 'euler', scheduler: 'normal', denoise: 0.6, guide_size: 64, crop_factor: 1 } },
      5: { class_type: 'SaveImage', inputs: { images: ['4', 0], filename_prefix: 'detail' } },
    });
    expect(out.status).toBe('success');
    const img = images[0];
    let changedInside = 0;
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const i = (y * 32 + x) * 3;
        const inside = x >= 12 && x < 20 && y >= 12 && y < 20;
        const diff = Math.abs(img.data[i] - base.data[i]) + Math.abs(img.data[i + 1] - base.data[i + 1]) + Math.abs(img.data[i + 2] - base.data[i + 2]);
        if (!inside) expect(diff, `${x},${y}`).toBe(0);
        else if (diff > 0) changedInside++;
      }
    }
    expect(changedInside).toBeGreaterThan(16);
  });

  it('an abort during sampling stops mid-steps with execution_interrupted at the KSampler', async () => {
    const ac = new AbortController();
    const events: ExecutionEvent[] = [];
    const prompt = toComfyPrompt(record({ seed: '7', steps: 6 }));
    const out = await executor.run({ promptId: 'stop', prompt }, {
      signal: ac.signal,
      emit(e) {
        events.push(e);
        if (e.type === 'progress' && e.data.value === 2) ac.abort(new Error('interrupted'));
      },
    });
    expect(out.status).toBe('interrupted');
    const last = events.at(-1) as { type: string; data: Record<string, unknown> };
    expect(last.type).toBe('execution_interrupted');
    expect(last.data.node_type).toBe('KSampler');
    expect(events.filter((e) => e.type === 'progress').length).toBeLessThan(6);
  });
});
