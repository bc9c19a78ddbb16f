// Broken numbers fail loudly instead of giving an all-black PNG: NaN weights in the UNet, VAE or text
// encoder, a tensor whose dtype label lies, prompt weights that overflow float32, and prompts whose
// aligned length is unbounded. Every error names the stage, the model file and (when known) the tensor.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint, type Checkpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../../weights/safetensors.ts';
import type { StDType } from '../../weights/dtype.ts';
import { NonFiniteStageError } from '../nonFiniteStage.ts';
import { alignTokenLengths, ConditioningError } from './conditioning.ts';
import { generate, type GenerateRequest } from './generate.ts';
import { assertTinyModels, writeTinyDiffusersCheckpoint } from './tinyCheckpoint.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-nonfinite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const base: GenerateRequest = { prompt: 'a cat on a mat', negative: 'blurry', seed: 42, steps: 3, sampler: 'euler', scheduler: 'normal', width: 16, height: 16, cfg: 7 };

/** Rewrites one tensor of a safetensors file: its values (as f32) and, optionally, its dtype label. */
async function rewriteTensor(file: string, name: string, change: (v: Float32Array) => void, relabel?: StDType): Promise<void> {
  const r = openSafetensors(file);
  const tensors: TensorToWrite[] = [];
  for (const [k, info] of r.tensors) {
    const data = r.readF32(k);
    if (k === name) change(data);
    tensors.push({ name: k, dtype: k === name && relabel ? relabel : 'F32', shape: info.shape, data });
  }
  r.close();
  await writeSafetensors(file, tensors);
}

assertTinyModels();
describe('non-finite numbers (tiny models)', () => {
  let clean: string;
  beforeAll(async () => {
    clean = await writeTinyDiffusersCheckpoint(join(dir, 'clean'));
  });

  async function poisoned(label: string, component: string, file: string, tensor: string, change: (v: Float32Array) => void, relabel?: StDType): Promise<Checkpoint> {
    const d = join(dir, label);
    cpSync(clean, d, { recursive: true });
    await rewriteTensor(join(d, component, file), tensor, change, relabel);
    return loadCheckpoint(d, { cacheDir: false });
  }

  async function failure(ckpt: Checkpoint, req: GenerateRequest = base): Promise<Error> {
    try {
      await generate(ckpt, req);
    } catch (e) {
      return e as Error;
    } finally {
      await ckpt.release();
    }
    throw new Error('generate succeeded');
  }

  it('NaN in a UNet weight: the sampling stage, step 1, the UNet file and the tensor', async () => {
    const e = await failure(await poisoned('unet-nan', 'unet', 'diffusion_pytorch_model.safetensors', 'conv_in.weight', (v) => { v[3] = NaN; }));
    expect(e).toBeInstanceOf(NonFiniteStageError);
    expect((e as NonFiniteStageError).stage).toBe('sampling');
    expect(e.message).toMatch(/^sampling produced non-finite numbers: denoised latent at step 1\/3/);
    expect(e.message).toContain(join(dir, 'unet-nan', 'unet', 'diffusion_pytorch_model.safetensors'));
    expect(e.message).toContain('conv_in.weight (1 of');
  });

  it('NaN in a VAE decoder weight: the decode stage and the tensor', async () => {
    const e = await failure(await poisoned('vae-nan', 'vae', 'diffusion_pytorch_model.safetensors', 'decoder.conv_out.bias', (v) => { v[0] = NaN; }));
    expect((e as NonFiniteStageError).stage).toBe('VAE decode');
    expect(e.message).toContain('decoder.conv_out.bias (1 of 3)');
    expect(e.message).toContain(join('vae-nan', 'vae'));
  });

  it('inf in a text encoder weight: the text stage, before any sampling', async () => {
    const e = await failure(await poisoned('text-inf', 'text_encoder', 'model.safetensors', 'text_model.final_layer_norm.weight', (v) => { v[1] = Infinity; }));
    expect((e as NonFiniteStageError).stage).toBe('text conditioning');
    expect(e.message).toContain('text_model.final_layer_norm.weight (1 of');
  });

  it('huge but finite weights (3e38 in conv_in): overflow is reported, no weight blamed for NaN', async () => {
    const e = await failure(await poisoned('unet-huge', 'unet', 'diffusion_pytorch_model.safetensors', 'conv_in.weight', (v) => v.fill(3e38)));
    expect(e).toBeInstanceOf(NonFiniteStageError);
    expect(e.message).toMatch(/^sampling produced non-finite numbers: .* no weight tensor holds NaN\/inf, so values overflowed/);
  });

  it('a lying dtype label (float bytes labelled I32) is refused when the tensor is read, naming it and the file', async () => {
    const e = await failure(await poisoned('vae-i32', 'vae', 'diffusion_pytorch_model.safetensors', 'decoder.conv_out.weight', () => {}, 'I32'));
    expect(e.message).toMatch(/decoder\.conv_out\.weight.*I32/);
    expect(e.message).toContain(join('vae-i32', 'vae', 'diffusion_pytorch_model.safetensors'));
  });

  it('prompt weights: (cat:1e308) is refused at parse, (cat:3.4e38) overflows and fails as overflow', async () => {
    const ckpt = loadCheckpoint(clean, { cacheDir: false });
    try {
      await expect(generate(ckpt, { ...base, prompt: 'a (cat:1e308)' })).rejects.toThrow(/prompt weight "1e308" is not a finite float32 number/);
      await expect(generate(ckpt, { ...base, prompt: 'a (cat:3.4e38)' })).rejects.toThrow(/produced non-finite numbers: .*(prompt weight)/);
      // Ordinary weights still work.
      const ok = await generate(ckpt, { ...base, prompt: 'a (cat:1.3) [dog]' });
      expect(ok.images).toHaveLength(1);
    } finally {
      await ckpt.release();
    }
  });

  it('a 6,000-word weighted prompt encodes (80+ windows); a negative that would align to the LCM is bounded', async () => {
    const ckpt = loadCheckpoint(clean, { cacheDir: false });
    try {
      const words = ['cat', 'dog', 'red', 'hair', '(happy:1.2)', 'sky'];
      const long = Array.from({ length: 6000 }, (_, i) => words[(i * 7) % words.length]).join(' ');
      const r = await generate(ckpt, { ...base, steps: 1, prompt: long });
      expect(r.images).toHaveLength(1);
      // 3 and 2 windows align to 6 windows = 462 tokens, over a limit of 400.
      const three = Array.from({ length: 200 }, () => 'cat').join(' ');
      const two = Array.from({ length: 100 }, () => 'dog').join(' ');
      process.env.INKFLOW_MAX_PROMPT_TOKENS = '400';
      try {
        await expect(generate(ckpt, { ...base, prompt: three, negative: two })).rejects.toThrow(ConditioningError);
        await expect(generate(ckpt, { ...base, prompt: three, negative: two })).rejects.toThrow(/3 and 2 windows of 77 tokens align to 462 tokens .* over the limit of 400/);
        // One prompt over the limit is refused before its windows are encoded; characters before tokenizing.
        const stages: string[] = [];
        const six = Array.from({ length: 400 }, () => 'cat').join(' ');
        await expect(generate(ckpt, { ...base, prompt: six }, { onProgress: (p) => stages.push(`${p.stage}${p.step}`) })).rejects.toThrow(/prompt too long: 6 windows of 77 tokens, more than the limit of 400 tokens/);
        expect(stages).toEqual(['text0']);
        await expect(generate(ckpt, { ...base, prompt: 'x'.repeat(3201) })).rejects.toThrow(/prompt too long: 3201 characters, more than 3200/);
      } finally {
        delete process.env.INKFLOW_MAX_PROMPT_TOKENS;
      }
    } finally {
      await ckpt.release();
    }
  });
});

describe('alignTokenLengths bound', () => {
  it('refuses 149 and 150 windows (LCM 22,350 windows) under the default limit, allows equal lengths', () => {
    const c = (windows: number) => ({ data: new Float32Array(windows * 77), tokens: windows * 77, hidden: 1 });
    expect(() => alignTokenLengths([c(149), c(150)])).toThrow(/align to 1720950 tokens/);
    expect(alignTokenLengths([c(150), c(150)])[0].tokens).toBe(150 * 77);
    expect(alignTokenLengths([c(3), c(1)])[1].tokens).toBe(3 * 77);
  });
});
