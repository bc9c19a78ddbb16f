// A small text-to-image model trained from scratch on the engine: a CLIP-style text tower over a tag
// vocabulary feeding an SD-style UNet (cross-attention, the same IR blocks as SD1.5), in the latent space
// of a given VAE. Trained jointly — one training graph holds text tower → UNet → weighted MSE, with the
// parameters named `text_encoder.text_model.…` and `unet.…` — and saved as a diffusers folder that
// loadCheckpoint (and so `inkflow generate` and the workflow nodes) opens like any SD1 model; the
// tokenizer/tag_vocab.json file makes the loader use the tag tokenizer instead of CLIP's BPE tables.
import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGraph, numel, type Graph } from '../graph/graph.ts';
import { clipTextStates } from '../models/clip/textEncoder.ts';
import { parseClipTextConfig, type ClipTextConfig } from '../models/clip/config.ts';
import { buildUNet } from '../models/unet/unet.ts';
import { parseUNetConfig, type UNetConfig } from '../models/unet/config.ts';
import { resolveComponent } from '../models/modelFolder.ts';
import { TAG_VOCAB_FILE, type TagVocabFile } from '../models/tokenizer/tagTokenizer.ts';
import { f32ToF16Array } from '../graph/half.ts';
import { writeSafetensors } from '../weights/safetensors.ts';
import { weightedMse } from './diffusionObjective.ts';
import { createTrainRng } from './trainRng.ts';

export const TEXT_PREFIX = 'text_encoder.';
export const UNET_PREFIX = 'unet.';

/** transformers CLIPTextConfig of the tag text tower (77 positions, so ComfyUI-style prompt windows fit). */
export function tagTextConfigJson(vocabSize: number, eosId: number, hidden = 64): Record<string, unknown> {
  return {
    architectures: ['CLIPTextModel'], model_type: 'clip_text_model', vocab_size: vocabSize, hidden_size: hidden,
    intermediate_size: hidden * 4, projection_dim: hidden, num_hidden_layers: 2, num_attention_heads: 2,
    max_position_embeddings: 77, hidden_act: 'quick_gelu', layer_norm_eps: 1e-5, bos_token_id: 0, eos_token_id: eosId, pad_token_id: eosId,
  };
}

/**
 * diffusers UNet2DConditionModel config: three levels, cross-attention on the two coarser ones (as SDXL
 * does): self-attention over the finest level's 32² = 1024 positions would cost more than the rest.
 */
export function tagUNetConfigJson(latentChannels: number, crossDim: number, widths: readonly number[] = [32, 64, 128]): Record<string, unknown> {
  return {
    _class_name: 'UNet2DConditionModel', in_channels: latentChannels, out_channels: latentChannels,
    block_out_channels: [...widths], layers_per_block: 1, norm_num_groups: 8, attention_head_dim: 4, cross_attention_dim: crossDim,
    down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'],
    up_block_types: ['CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'],
    flip_sin_to_cos: true, freq_shift: 0, act_fn: 'silu', norm_eps: 1e-5, center_input_sample: false, downsample_padding: 1, mid_block_scale_factor: 1,
  };
}

export interface TagModelConfigs {
  unet: UNetConfig;
  text: ClipTextConfig;
}

export function parseTagModelConfigs(unetJson: Record<string, unknown>, textJson: Record<string, unknown>): TagModelConfigs {
  return { unet: parseUNetConfig(unetJson), text: parseClipTextConfig(textJson) };
}

/**
 * The joint training graph for `batch` samples of latents [c, h, w]: inputs input_ids (i64 [B, 77]), sample,
 * timestep, target, weights; output `loss`. Every parameter is trainable.
 */
export function textToImageTrainingGraph(cfg: TagModelConfigs, batch: number, height: number, width: number): Graph {
  const g = createGraph('text_to_image_train');
  const ids = g.input('input_ids', 'i64', [batch, cfg.text.max_position_embeddings]);
  const sample = g.input('sample', 'f32', [batch, cfg.unet.inChannels, height, width]);
  const timestep = g.input('timestep', 'f32', [batch]);
  const context = g.within(TEXT_PREFIX.slice(0, -1), () => clipTextStates(ids, cfg.text, 1).last);
  const out = g.within(UNET_PREFIX.slice(0, -1), () => buildUNet(g, cfg.unet, { sample, timestep, encoderHiddenStates: context }));
  const pred = out.sample;
  g.output('loss', weightedMse(pred, g.input('target', 'f32', pred.shape), g.input('weights', 'f32', [batch])));
  return g;
}

/**
 * From-scratch initial values, as PyTorch's defaults give them: norm scales 1, biases 0, conv and linear
 * weights uniform in ±1/√fan_in, embeddings N(0, 0.02). The UNet's last conv starts at zero so the first
 * prediction is 0 (a calm start for ε-prediction).
 */
export function initialTextToImageParams(graph: Graph, seed: number): { params: Record<string, Float32Array>; shapes: Record<string, number[]> } {
  const rng = createTrainRng(seed);
  const params: Record<string, Float32Array> = {};
  const shapes: Record<string, number[]> = {};
  for (const [name, id] of [...graph.params].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const shape = [...graph.values[id].shape];
    const n = numel(shape);
    const a = new Float32Array(n);
    shapes[name] = shape;
    if (shape.length === 1) {
      if (name.endsWith('.weight')) a.fill(1);
    } else if (/embedding\.weight$/.test(name) && name.startsWith(TEXT_PREFIX)) {
      const z = rng.normals(n);
      for (let i = 0; i < n; i++) a[i] = 0.02 * z[i];
    } else if (name !== `${UNET_PREFIX}conv_out.weight`) {
      const bound = 1 / Math.sqrt(n / shape[0]);
      for (let i = 0; i < n; i++) a[i] = (2 * rng.uniform() - 1) * bound;
    }
    params[name] = a;
  }
  return { params, shapes };
}

export interface SaveTagModelOptions {
  unetConfig: Record<string, unknown>;
  textConfig: Record<string, unknown>;
  vocab: TagVocabFile;
  /** The VAE folder whose latent space the UNet was trained in (copied in). */
  vaeDir: string;
  /** The latent scale the training used (written into the copied vae/config.json). */
  scalingFactor: number;
  /** Model card (README.md). */
  card: string;
}

async function writeComponent(dir: string, file: string, params: Readonly<Record<string, Float32Array>>, shapes: Readonly<Record<string, readonly number[]>>, prefix: string): Promise<void> {
  const tensors = Object.keys(params).filter((k) => k.startsWith(prefix)).sort().map((k) => ({
    name: k.slice(prefix.length), dtype: 'F16' as const, shape: [...shapes[k]], data: f32ToF16Array(params[k]),
  }));
  await writeSafetensors(join(dir, file), tensors);
}

/**
 * Writes the diffusers folder (model_index.json, unet/, text_encoder/, tokenizer/tag_vocab.json, vae/,
 * scheduler/, README.md) with fp16 weights. Written beside `dir` and renamed over it, so a reader never
 * sees half a model.
 */
export async function saveTagModelFolder(dir: string, params: Readonly<Record<string, Float32Array>>, shapes: Readonly<Record<string, readonly number[]>>, o: SaveTagModelOptions): Promise<void> {
  const tmp = `${dir}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  for (const sub of ['unet', 'text_encoder', 'tokenizer', 'vae', 'scheduler']) mkdirSync(join(tmp, sub), { recursive: true });
  const json = (path: string, v: unknown) => writeFileSync(path, `${JSON.stringify(v, null, 2)}\n`);
  json(join(tmp, 'model_index.json'), {
    _class_name: 'StableDiffusionPipeline', _inkflow: 'tag-conditioned text-to-image (tag tokenizer, tiny CLIP-style text tower)',
    unet: ['diffusers', 'UNet2DConditionModel'], text_encoder: ['transformers', 'CLIPTextModel'], tokenizer: ['inkflow', 'TagTokenizer'],
    vae: ['diffusers', 'AutoencoderKL'], scheduler: ['diffusers', 'EulerDiscreteScheduler'],
  });
  json(join(tmp, 'unet', 'config.json'), o.unetConfig);
  await writeComponent(join(tmp, 'unet'), 'diffusion_pytorch_model.safetensors', params, shapes, UNET_PREFIX);
  json(join(tmp, 'text_encoder', 'config.json'), o.textConfig);
  await writeComponent(join(tmp, 'text_encoder'), 'model.safetensors', params, shapes, TEXT_PREFIX);
  json(join(tmp, 'tokenizer', TAG_VOCAB_FILE), o.vocab);
  const vae = resolveComponent(o.vaeDir, { subfolder: 'vae', weightNames: ['diffusion_pytorch_model.safetensors', 'model.safetensors'], what: 'VAE' });
  const vaeConfig = JSON.parse(readFileSync(vae.configPath!, 'utf8')) as Record<string, unknown>;
  json(join(tmp, 'vae', 'config.json'), { ...vaeConfig, scaling_factor: o.scalingFactor });
  copyFileSync(vae.weightsPath, join(tmp, 'vae', 'diffusion_pytorch_model.safetensors'));
  json(join(tmp, 'scheduler', 'scheduler_config.json'), {
    _class_name: 'EulerDiscreteScheduler', num_train_timesteps: 1000, beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, prediction_type: 'epsilon', timestep_spacing: 'leading', steps_offset: 1,
  });
  writeFileSync(join(tmp, 'README.md'), o.card);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}
