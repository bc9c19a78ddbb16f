// Test-only: tiny Stable-Diffusion-shaped checkpoints assembled from the golden tiny models
// (unet_tiny, vae_tiny, the tiny CLIP text tower, cn_c16_16_32_32, t2i_adapter_tiny) and the CLIP tokenizer tables in
// ../shared/data. The VAE halves the image once (factor 2) and the UNet has two levels, so a 16×16
// image is an 8×8 latent and a whole pipeline run takes well under a second per step.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../../weights/safetensors.ts';
import { ldmVaeKey } from '../../weights/keymaps/ldmVae.ts';

export const GOLDEN_ROOT = resolve(process.env.INKFLOW_GOLDEN ?? join(import.meta.dirname, '../../../../shared/golden'));
export const TOKENIZER_DIR = resolve(join(import.meta.dirname, '../../../../shared/data/clip-tokenizer'));
export const TINY_CONTROLNET = join(GOLDEN_ROOT, 'controlnet', 'cn_c16_16_32_32');
/** diffusers T2IAdapter, channels (32, 64): its features fit unet_tiny's two levels (64² image → 8² latent). */
export const TINY_T2I_ADAPTER = join(GOLDEN_ROOT, 'models', 't2i_adapter_tiny');

const UNET = join(GOLDEN_ROOT, 'models', 'unet_tiny');
const VAE = join(GOLDEN_ROOT, 'models', 'vae_tiny');
const CLIP = join(GOLDEN_ROOT, 'clip');

/** True when the golden files the fixtures need are present. */
/**
 * Tests built on the tiny golden models call this first: missing test data is a failure that names the files
 * (and where they come from), never a silent skip.
 */
export function assertTinyModels(...extra: string[]): void {
  const needed = [join(UNET, 'weights.safetensors'), join(VAE, 'weights.safetensors'), join(CLIP, 'clip_text.safetensors'), join(TOKENIZER_DIR, 'vocab.json'), ...extra];
  const missing = needed.filter((f) => !existsSync(f));
  if (missing.length) throw new Error(`tiny test models missing (../shared/golden and ../shared/data, or INKFLOW_GOLDEN): ${missing.join(', ')}`);
}

function tensorsOf(file: string, rename: (k: string) => string | undefined = (k) => k, reshape?: (k: string, shape: number[]) => number[]): TensorToWrite[] {
  const r = openSafetensors(file);
  const out: TensorToWrite[] = [];
  for (const [k, info] of r.tensors) {
    const name = rename(k);
    if (!name) continue;
    out.push({ name, dtype: 'F32', shape: reshape?.(k, info.shape) ?? info.shape, data: r.readF32(k) });
  }
  r.close();
  return out;
}

/** Deterministic small values (xorshift), for the weights the golden models do not have. */
function pseudoRandom(n: number, seed: number, std = 0.05): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    a[i] = (s / 4294967296 - 0.5) * 2 * Math.sqrt(3) * std;
  }
  return a;
}

export interface TinyCheckpointOptions {
  /** A 9-channel inpainting UNet (conv_in extended with deterministic weights for mask + masked latent). */
  inpaint?: boolean;
  /** Written to scheduler/scheduler_config.json. */
  predictionType?: 'epsilon' | 'v_prediction';
}

/** Writes a diffusers pipeline folder at `dir` and returns it. */
export async function writeTinyDiffusersCheckpoint(dir: string, opts: TinyCheckpointOptions = {}): Promise<string> {
  for (const sub of ['unet', 'vae', 'text_encoder', 'tokenizer', 'scheduler']) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, 'model_index.json'), JSON.stringify({ _class_name: 'StableDiffusionPipeline', unet: ['diffusers', 'UNet2DConditionModel'], vae: ['diffusers', 'AutoencoderKL'], text_encoder: ['transformers', 'CLIPTextModel'], tokenizer: ['transformers', 'CLIPTokenizer'] }));
  const unetConfig = JSON.parse(readFileSync(join(UNET, 'config.json'), 'utf8'));
  let unetTensors = tensorsOf(join(UNET, 'weights.safetensors'));
  if (opts.inpaint) {
    unetConfig.in_channels = 9;
    unetTensors = unetTensors.map((t) => {
      if (t.name !== 'conv_in.weight') return t;
      const [o, i, kh, kw] = t.shape;
      const src = t.data as Float32Array;
      const extra = pseudoRandom(o * 5 * kh * kw, 99);
      const data = new Float32Array(o * 9 * kh * kw);
      for (let a = 0; a < o; a++) {
        data.set(src.subarray(a * i * kh * kw, (a + 1) * i * kh * kw), a * 9 * kh * kw);
        data.set(extra.subarray(a * 5 * kh * kw, (a + 1) * 5 * kh * kw), a * 9 * kh * kw + i * kh * kw);
      }
      return { ...t, shape: [o, 9, kh, kw], data };
    });
  }
  writeFileSync(join(dir, 'unet', 'config.json'), JSON.stringify(unetConfig));
  await writeSafetensors(join(dir, 'unet', 'diffusion_pytorch_model.safetensors'), unetTensors);
  copyFileSync(join(VAE, 'config.json'), join(dir, 'vae', 'config.json'));
  copyFileSync(join(VAE, 'weights.safetensors'), join(dir, 'vae', 'diffusion_pytorch_model.safetensors'));
  copyFileSync(join(CLIP, 'config_text_sd1.json'), join(dir, 'text_encoder', 'config.json'));
  copyFileSync(join(CLIP, 'clip_text.safetensors'), join(dir, 'text_encoder', 'model.safetensors'));
  for (const f of ['vocab.json', 'merges.txt']) copyFileSync(join(TOKENIZER_DIR, f), join(dir, 'tokenizer', f));
  writeFileSync(join(dir, 'scheduler', 'scheduler_config.json'), JSON.stringify({ _class_name: 'EulerDiscreteScheduler', prediction_type: opts.predictionType ?? 'epsilon', beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear' }));
  return dir;
}

/** Writes the same models as one LDM single file (model.diffusion_model. / first_stage_model. / cond_stage_model.transformer.). */
export async function writeTinySingleFile(path: string): Promise<string> {
  const tensors = [
    ...tensorsOf(join(UNET, 'ldm_unet.safetensors')),
    ...tensorsOf(join(VAE, 'weights.safetensors'), (k) => {
      const ldm = ldmVaeKey(k, 2);
      return ldm && `first_stage_model.${ldm}`;
    }, (k, shape) => (/mid_block\.attentions\.0\.(to_q|to_k|to_v|to_out\.0)\.weight$/.test(k) ? [...shape, 1, 1] : shape)),
    ...tensorsOf(join(CLIP, 'clip_text.safetensors'), (k) => `cond_stage_model.transformer.${k}`),
  ];
  await writeSafetensors(path, tensors);
  return path;
}
