// `inkflow generate` on the tiny checkpoint: PNG with ComfyUI `prompt` + `inkflow` metadata, --from
// regenerating the same pixels, ComfyUI-only metadata, T2I-Adapters, help text and usage errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createImage, decodeImage, encodePng, readPngText } from '../../imaging/image.ts';
import { COMFY_SAMPLERS, COMFY_SCHEDULERS } from '../../sampling/comfy/ksampler.ts';
import { assertTinyModels, TINY_CONTROLNET, TINY_T2I_ADAPTER, writeTinyDiffusersCheckpoint } from '../../pipelines/generate/tinyCheckpoint.ts';
import { fromComfyPrompt, serializeComfyPrompt, toComfyPrompt } from '../../pipelines/generate/comfyPrompt.ts';
import { generateCommand } from './generate.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-cli-gen-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cache = join(dir, 'cache');

async function pixels(path: string): Promise<Buffer> {
  return Buffer.from((await decodeImage(readFileSync(path), 3)).data);
}

describe('inkflow generate --help', () => {
  it('lists every sampler and scheduler name', () => {
    for (const s of COMFY_SAMPLERS) expect(generateCommand.help).toContain(s);
    for (const s of COMFY_SCHEDULERS) expect(generateCommand.help).toContain(s);
    expect(generateCommand.name).toBe('generate');
  });
});

describe('ComfyUI prompt metadata', () => {
  const rec = {
    model: '/models/tiny.safetensors', prompt: 'a (cat:1.2) <lora:ink:0.7>', negative: 'blurry', seed: '18446744073709551615',
    steps: 12, cfg: 6.5, sampler: 'euler_ancestral', scheduler: 'karras', width: 64, height: 48, batch: 2, denoise: 1, clipSkip: 2,
    loras: [], controlNets: [{ path: '/cn/sketch', hint: '/tmp/s.png', strength: 0.8, startPercent: 0, endPercent: 0.8 }],
  };

  it('builds the ComfyUI graph (lora tag → LoraLoader, 64-bit seed exact) and reads it back', () => {
    const json = serializeComfyPrompt(toComfyPrompt(rec));
    expect(json).toContain('"seed":18446744073709551615');
    const nodes = Object.values(JSON.parse(json) as Record<string, { class_type: string; inputs: Record<string, unknown> }>);
    const classes = nodes.map((n) => n.class_type);
    for (const c of ['CheckpointLoaderSimple', 'LoraLoader', 'CLIPSetLastLayer', 'CLIPTextEncode', 'ControlNetLoader', 'ControlNetApplyAdvanced', 'EmptyLatentImage', 'KSampler', 'VAEDecode', 'SaveImage']) expect(classes).toContain(c);
    expect(nodes.find((n) => n.class_type === 'LoraLoader')!.inputs).toMatchObject({ lora_name: 'ink.safetensors', strength_model: 0.7, strength_clip: 0.7 });
    expect(nodes.filter((n) => n.class_type === 'CLIPTextEncode').map((n) => n.inputs.text)).toEqual(['a (cat:1.2)', 'blurry']);
    const back = fromComfyPrompt(json);
    expect(back).toMatchObject({ seed: rec.seed, steps: 12, cfg: 6.5, sampler: 'euler_ancestral', scheduler: 'karras', width: 64, height: 48, batch: 2, clipSkip: 2, prompt: 'a (cat:1.2)', negative: 'blurry', model: 'tiny.safetensors' });
  });

  it('img2img / inpaint graphs use VAEEncode(+SetLatentNoiseMask) or VAEEncodeForInpaint', () => {
    const classes = (r: object) => Object.values(toComfyPrompt({ ...rec, ...r })).map((n) => n.class_type);
    expect(classes({ init: '/a.png', denoise: 0.6 })).toContain('VAEEncode');
    expect(classes({ init: '/a.png', mask: '/m.png', inpaintMode: 'vae-encode-for-inpaint', growMaskBy: 32 })).toContain('VAEEncodeForInpaint');
    expect(classes({ init: '/a.png', mask: '/m.png', inpaintMode: 'noise-mask' })).toContain('SetLatentNoiseMask');
  });

  it('rejects metadata that is not a ComfyUI prompt', () => {
    expect(() => fromComfyPrompt('{nope')).toThrow(/not JSON/);
    expect(() => fromComfyPrompt('{"1": {"class_type": "SaveImage", "inputs": {}}}')).toThrow(/no KSampler/);
  });
});

assertTinyModels();
describe('inkflow generate (tiny checkpoint)', () => {
  let model: string;
  const prev = process.env.INKFLOW_CACHE;
  beforeAll(async () => {
    process.env.INKFLOW_CACHE = cache;
    model = await writeTinyDiffusersCheckpoint(join(dir, 'tiny'));
  });
  afterAll(() => {
    if (prev === undefined) delete process.env.INKFLOW_CACHE;
    else process.env.INKFLOW_CACHE = prev;
  });

  it('writes a PNG whose metadata round-trips through --from', async () => {
    const out = join(dir, 'a.png');
    const code = await generateCommand.run(['--model', model, '--prompt', 'a (cat:1.3) on a mat', '--negative', 'blurry', '--steps', '3', '--cfg', '6', '--sampler', 'euler_ancestral', '--scheduler', 'normal', '--seed', '1234', '--width', '16', '--height', '16', '-o', out]);
    expect(code).toBe(0);
    const text = readPngText(readFileSync(out));
    const rec = JSON.parse(text.inkflow);
    expect(rec).toMatchObject({ kind: 'generate', seed: '1234', steps: 3, cfg: 6, sampler: 'euler_ancestral', scheduler: 'normal', width: 16, height: 16, prompt: 'a (cat:1.3) on a mat' });
    expect(fromComfyPrompt(text.prompt)).toMatchObject({ seed: '1234', steps: 3, cfg: 6, width: 16, height: 16 });

    const again = join(dir, 'b.png');
    expect(await generateCommand.run(['--from', out, '-o', again])).toBe(0);
    expect((await pixels(again)).equals(await pixels(out))).toBe(true);
    const other = join(dir, 'c.png');
    expect(await generateCommand.run(['--from', out, '--seed', '1235', '-o', other])).toBe(0);
    expect((await pixels(other)).equals(await pixels(out))).toBe(false);
  });

  it('--from a ComfyUI-only PNG (prompt chunk, no inkflow chunk) with --model', async () => {
    const first = join(dir, 'a.png');
    const comfyOnly = join(dir, 'comfy.png');
    const { prompt } = readPngText(readFileSync(first));
    writeFileSync(comfyOnly, await encodePng(createImage(4, 4, 3), { prompt }));
    const out = join(dir, 'd.png');
    expect(await generateCommand.run(['--from', comfyOnly, '--model', model, '-o', out])).toBe(0);
    expect((await pixels(out)).equals(await pixels(first))).toBe(true);
  });

  it('img2img + inpainting + ControlNet + batch from the command line', async () => {
    const init = join(dir, 'init.png');
    const img = createImage(16, 16, 3);
    for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 29) & 255;
    writeFileSync(init, await encodePng(img));
    const mask = join(dir, 'mask.png');
    const m = createImage(16, 16, 1);
    for (let y = 0; y < 8; y++) m.data.fill(255, y * 16, y * 16 + 16);
    writeFileSync(mask, await encodePng(m));
    const out = join(dir, 'inpaint.png');
    expect(await generateCommand.run(['--model', model, '--prompt', 'x', '--steps', '2', '--seed', '7', '--init', init, '--mask', mask, '--grow-mask', '0', '--controlnet', TINY_CONTROLNET, '--control', init, '--sketch-fidelity', '0.75', '-n', '2', '-o', out])).toBe(0);
    const second = out.replace('.png', '-2.png');
    const rec = JSON.parse(readPngText(readFileSync(second)).inkflow);
    expect(rec).toMatchObject({ batch: 2, batchIndex: 1, growMaskBy: 0, inpaintMode: 'vae-encode-for-inpaint', sketchFidelity: 0.75 });
    expect(rec.controlNets[0]).toMatchObject({ strength: 0.75, endPercent: 0.75 });
    const px = await pixels(out);
    for (let i = 128 * 3; i < 256 * 3; i++) expect(px[i]).toBe(img.data[i]);
  });

  it('--t2i-adapter / --adapter-image / --adapter-scale: recorded, regenerated by --from, scale 0 = no adapter', async () => {
    const img = join(dir, 'adapter-sketch.png');
    const sk = createImage(40, 24, 3, 255);
    for (let i = 0; i < sk.data.length; i += 3) if ((i / 3) % 7 === 0 || (i / 3) % 11 === 0) sk.data.fill(0, i, i + 3);
    writeFileSync(img, await encodePng(sk));
    const common = ['--model', model, '--prompt', 'x', '--steps', '2', '--seed', '5', '--width', '16', '--height', '16'];
    const none = join(dir, 'adapter-none.png');
    const withA = join(dir, 'adapter-1.png');
    const off = join(dir, 'adapter-0.png');
    expect(await generateCommand.run([...common, '-o', none])).toBe(0);
    expect(await generateCommand.run([...common, '--t2i-adapter', TINY_T2I_ADAPTER, '--adapter-image', img, '--adapter-scale', '0.8', '-o', withA])).toBe(0);
    expect(await generateCommand.run([...common, '--t2i-adapter', TINY_T2I_ADAPTER, '--adapter-image', img, '--adapter-scale', '0', '-o', off])).toBe(0);
    expect((await pixels(withA)).equals(await pixels(none))).toBe(false);
    expect((await pixels(off)).equals(await pixels(none))).toBe(true);
    const text = readPngText(readFileSync(withA));
    expect(JSON.parse(text.inkflow).adapters).toEqual([{ path: TINY_T2I_ADAPTER, image: img, scale: 0.8 }]);
    const apply = Object.values(JSON.parse(text.prompt) as Record<string, { class_type: string; inputs: Record<string, unknown> }>).find((n) => n.class_type === 'ControlNetApplyAdvanced');
    expect(apply?.inputs).toMatchObject({ strength: 0.8, start_percent: 0, end_percent: 1 });
    const again = join(dir, 'adapter-again.png');
    expect(await generateCommand.run(['--from', withA, '-o', again])).toBe(0);
    expect((await pixels(again)).equals(await pixels(withA))).toBe(true);
    // Records without adapters (older PNGs) still regenerate without one.
    expect(JSON.parse(readPngText(readFileSync(none)).inkflow).adapters).toBeUndefined();

    await expect(generateCommand.run([...common, '--t2i-adapter', TINY_T2I_ADAPTER])).rejects.toThrow(/1 --t2i-adapter but 0 --adapter-image/);
    await expect(generateCommand.run([...common, '--adapter-image', img])).rejects.toThrow(/need --t2i-adapter/);
    await expect(generateCommand.run([...common, '--t2i-adapter', TINY_T2I_ADAPTER, '--adapter-image', img, '--adapter-scale', 'big'])).rejects.toThrow(/--adapter-scale must be a number/);
    await expect(generateCommand.run([...common, '--t2i-adapter', TINY_T2I_ADAPTER, '--adapter-image', img, '--adapter-scale', '11'])).rejects.toThrow(/--adapter-scale must be in \[0, 10\]/);
    await expect(generateCommand.run([...common, '--t2i-adapter', join(dir, 'missing-adapter'), '--adapter-image', img])).rejects.toThrow(/T2I-Adapter not found/);
    await expect(generateCommand.run([...common, '--t2i-adapter', TINY_T2I_ADAPTER, '--adapter-image', join(dir, 'nope.png')])).rejects.toThrow(/cannot read/);
    expect(generateCommand.help).toContain('--t2i-adapter PATH');
  });

  it('usage errors are clear', async () => {
    await expect(generateCommand.run(['--model', model])).rejects.toThrow(/--prompt is required/);
    await expect(generateCommand.run(['--model', model, '--prompt', 'x', '--sampler', 'bogus'])).rejects.toThrow(/unknown sampler "bogus"/);
    await expect(generateCommand.run(['--model', model, '--prompt', 'x', '--steps', 'many'])).rejects.toThrow(/--steps must be an integer/);
    await expect(generateCommand.run(['--model', model, '--prompt', 'x', '--seed', '-3'])).rejects.toThrow(/--seed/);
    await expect(generateCommand.run(['--model', model, '--prompt', 'x', '--mask', 'm.png'])).rejects.toThrow(/--mask needs --init/);
    await expect(generateCommand.run(['--model', model, '--prompt', 'x', '--controlnet', 'a'])).rejects.toThrow(/--control/);
    await expect(generateCommand.run(['--model', model, '--prompt', 'x', '--bogus'])).rejects.toThrow(/bogus/);
    await expect(generateCommand.run(['--model', model, '--prompt', 'x', '-o', 'x.jpg'])).rejects.toThrow(/\.png/);
    await expect(generateCommand.run(['--from', join(dir, 'nope.png')])).rejects.toThrow(/cannot read/);
  });
});
