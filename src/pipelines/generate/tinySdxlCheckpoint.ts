// Test-only: the tiny SDXL pipeline of golden/sdxl_pipeline as a user would have it — the diffusers folder
// itself, or the same weights written as one sgm/LDM single file (model.diffusion_model.* with label_emb,
// conditioner.embedders.0.transformer.*, conditioner.embedders.1.model.* with fused in_proj, first_stage_model.*).
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../../weights/safetensors.ts';
import { diffusersToLdmUnetKey } from '../../weights/keymaps/ldmUnet.ts';
import { diffusersToLdmControlNetKey, LDM_CONTROLNET_PREFIX } from '../../weights/keymaps/ldmControlnet.ts';
import { parseControlNetConfig } from '../../models/controlnet/config.ts';
import { parseT2IAdapterConfig } from '../../models/t2iAdapter/config.ts';
import { buildT2IAdapterGraph } from '../../models/t2iAdapter/load.ts';
import { buildControlNetGraph } from '../../models/controlnet/load.ts';
import { ldmVaeKey } from '../../weights/keymaps/ldmVae.ts';
import { openClipTextKey } from '../../weights/keymaps/ldmClip.ts';
import { transposeMatrix } from '../../weights/keymaps/openClipTower.ts';
import { parseUNetConfig } from '../../models/unet/config.ts';
import { buildUNetGraph, ldmLayout } from '../../models/unet/load.ts';
import { randomWeights } from '../../graph/randomWeights.ts';
import type { Graph } from '../../graph/graph.ts';
import { BASE_G_PREFIX, BASE_L_PREFIX, REFINER_G_PREFIX, type LoadSdxlOptions } from '../../models/checkpoint/sdxlCheckpoint.ts';
import { parseClipTextConfig } from '../../models/clip/config.ts';
import { clipTextGraph } from '../../models/clip/textEncoder.ts';
import { parseVaeConfig } from '../../models/vae/config.ts';
import { vaeDecodeGraph } from '../../models/vae/decoder.ts';
import { vaeEncodeGraph } from '../../models/vae/encoder.ts';

export const SDXL_GOLDEN = resolve(process.env.INKFLOW_GOLDEN ?? join(import.meta.dirname, '../../../../shared/golden'), 'sdxl_pipeline');
export const SDXL_TOKENIZER_DIR = resolve(join(import.meta.dirname, '../../../../shared/data/clip-tokenizer'));

const json = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;

/** Options that make the single file load with the tiny configs (head counts and norm groups are not in the shapes). */
export function tinySdxlSingleFileOptions(): LoadSdxlOptions {
  return {
    tokenizerDir: SDXL_TOKENIZER_DIR,
    unetConfig: json(join(SDXL_GOLDEN, 'unet', 'config.json')),
    textConfigs: { l: json(join(SDXL_GOLDEN, 'text_encoder', 'config.json')), g: json(join(SDXL_GOLDEN, 'text_encoder_2', 'config.json')) },
    vaeConfigPath: join(SDXL_GOLDEN, 'vae', 'config.json'),
  };
}

function read(file: string): Map<string, { shape: number[]; data: Float32Array; dtype: string }> {
  const r = openSafetensors(file);
  const out = new Map<string, { shape: number[]; data: Float32Array; dtype: string }>();
  for (const [k, info] of r.tensors) out.set(k, { shape: [...info.shape], data: r.readF32(k), dtype: info.dtype });
  r.close();
  return out;
}

/**
 * Writes the golden tiny SDXL as one single file (F32) at `path`; `linearProjection` stores bigG's projection as
 * `text_projection.weight` [out, in], as some fine-tunes do, instead of open_clip's `text_projection` [in, out].
 */
export async function writeTinySdxlSingleFile(path: string, opts: { linearProjection?: boolean; source?: string } = {}): Promise<string> {
  const src = opts.source ?? SDXL_GOLDEN;
  const refiner = !existsSync(join(src, 'text_encoder'));
  const gPrefix = refiner ? REFINER_G_PREFIX : BASE_G_PREFIX;
  const out: TensorToWrite[] = [];
  const unetCfg = parseUNetConfig(json(join(src, 'unet', 'config.json')));
  for (const [k, t] of read(join(src, 'unet', 'diffusion_pytorch_model.safetensors'))) {
    const ldm = diffusersToLdmUnetKey(k, ldmLayout(unetCfg));
    if (!ldm) throw new Error(`tiny SDXL: no LDM name for UNet key ${k}`);
    out.push({ name: `model.diffusion_model.${ldm}`, dtype: 'F32', shape: t.shape, data: t.data });
  }
  const vaeLevels = (json(join(src, 'vae', 'config.json')).block_out_channels as number[]).length;
  for (const [k, t] of read(join(src, 'vae', 'diffusion_pytorch_model.safetensors'))) {
    const ldm = ldmVaeKey(k, vaeLevels);
    if (!ldm) throw new Error(`tiny SDXL: no LDM name for VAE key ${k}`);
    const conv = /mid\.attn_1\.(q|k|v|proj_out)\.weight$/.test(ldm);
    out.push({ name: `first_stage_model.${ldm}`, dtype: 'F32', shape: conv ? [...t.shape, 1, 1] : t.shape, data: t.data });
  }
  if (!refiner) for (const [k, t] of read(join(src, 'text_encoder', 'model.safetensors'))) out.push({ name: BASE_L_PREFIX + k, dtype: 'F32', shape: t.shape, data: t.data });
  const g = read(join(src, 'text_encoder_2', 'model.safetensors'));
  const hidden = g.get('text_model.embeddings.token_embedding.weight')!.shape[1];
  const fused = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [k, t] of g) {
    const m = openClipTextKey(k, hidden);
    if (!m) continue; // position_ids
    const name = gPrefix + m.key;
    if (m.rows) {
      const cols = t.shape.length === 2 ? t.shape[1] : 1;
      const f = fused.get(name) ?? { shape: t.shape.length === 2 ? [3 * hidden, cols] : [3 * hidden], data: new Float32Array(3 * hidden * cols) };
      f.data.set(t.data, m.rows[0] * cols);
      fused.set(name, f);
    } else if (m.transpose && opts.linearProjection) {
      out.push({ name: `${name}.weight`, dtype: 'F32', shape: t.shape, data: t.data });
    } else if (m.transpose) {
      out.push({ name, dtype: 'F32', shape: [t.shape[1], t.shape[0]], data: transposeMatrix(t.data, t.shape[0], t.shape[1]) });
    } else {
      out.push({ name, dtype: 'F32', shape: t.shape, data: t.data });
    }
  }
  for (const [name, f] of fused) out.push({ name, dtype: 'F32', ...f });
  await writeSafetensors(path, out);
  return path;
}

/**
 * A tiny SDXL refiner as a diffusers folder: bigG only (the golden text_encoder_2), a UNet with the golden's
 * structure but 32-wide context and pooled 32 + 5 time ids × 8 (size, crop, aesthetic score), random weights.
 */
export async function writeTinySdxlRefiner(dir: string): Promise<string> {
  for (const sub of ['unet', 'vae', 'text_encoder_2', 'tokenizer_2', 'scheduler']) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, 'model_index.json'), JSON.stringify({ _class_name: 'StableDiffusionXLImg2ImgPipeline', requires_aesthetics_score: true, text_encoder: [null, null], tokenizer: [null, null], text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'], tokenizer_2: ['transformers', 'CLIPTokenizer'], unet: ['diffusers', 'UNet2DConditionModel'], vae: ['diffusers', 'AutoencoderKL'] }));
  const raw = { ...json(join(SDXL_GOLDEN, 'unet', 'config.json')), cross_attention_dim: 32, projection_class_embeddings_input_dim: 32 + 5 * 8 };
  writeFileSync(join(dir, 'unet', 'config.json'), JSON.stringify(raw));
  const g = buildUNetGraph(parseUNetConfig(raw), { batch: 1, height: 8, width: 8, seqLen: 77 });
  const store = randomWeights(g, { seed: 11, std: 0.05 });
  await writeSafetensors(join(dir, 'unet', 'diffusion_pytorch_model.safetensors'), [...g.params.keys()].map((name) => {
    const p = store.get(name)!;
    return { name, dtype: 'F32' as const, shape: p.shape, data: new Float32Array(p.bytes.slice().buffer) };
  }));
  for (const [sub, files] of [['vae', ['config.json', 'diffusion_pytorch_model.safetensors']], ['text_encoder_2', ['config.json', 'model.safetensors']], ['tokenizer_2', ['special_tokens_map.json', 'tokenizer_config.json']], ['scheduler', ['scheduler_config.json']]] as const) {
    for (const f of files) copyFileSync(join(SDXL_GOLDEN, sub, f), join(dir, sub, f));
  }
  return dir;
}

/** Random weights for every parameter of `g` as F32 tensors; `zero(name)` true writes zeros instead. */
function randomTensors(g: Graph, seed: number, zero: (name: string) => boolean = () => false): TensorToWrite[] {
  const store = randomWeights(g, { seed, std: 0.05 });
  return [...g.params.keys()].map((name) => {
    const p = store.get(name)!;
    const data = zero(name) ? new Float32Array(p.shape.reduce((a, b) => a * b, 1)) : new Float32Array(p.bytes.slice().buffer);
    return { name, dtype: 'F32' as const, shape: p.shape, data };
  });
}

/**
 * A tiny SDXL ControlNet for the golden tiny SDXL (ControlNetModel.from_unet's structure: the UNet's encoder half,
 * add_embedding included; hint encoder 8/8/16/16, so the hint is 8× the latent), random weights. `zeroOut` zeroes
 * the output 1×1 convs (controlnet_down_blocks, controlnet_mid_block) as a freshly initialised ControlNet has them.
 * `layout: 'ldm'` writes the same weights as an LDM single file (control_model.*) with config.json beside it.
 */
export async function writeTinySdxlControlNet(dir: string, opts: { zeroOut?: boolean; seed?: number; layout?: 'diffusers' | 'ldm' } = {}): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const raw = { ...json(join(SDXL_GOLDEN, 'unet', 'config.json')), _class_name: 'ControlNetModel', conditioning_embedding_out_channels: [8, 8, 16, 16] };
  delete (raw as Record<string, unknown>).up_block_types;
  writeFileSync(join(dir, 'config.json'), JSON.stringify(raw));
  const config = parseControlNetConfig(raw);
  const g = buildControlNetGraph(config, { batch: 1, height: 8, width: 8, seqLen: 77 });
  const zero = (n: string) => !!opts.zeroOut && /^controlnet_(down_blocks|mid_block)\./.test(n);
  let tensors = randomTensors(g, opts.seed ?? 21, zero);
  if (opts.layout === 'ldm') {
    const layout = { layersPerBlock: config.unet.down.map((d) => d.layers), conditioningStages: config.embeddingOutChannels.length };
    tensors = tensors.map((t) => {
      const k = diffusersToLdmControlNetKey(t.name, layout);
      if (!k) throw new Error(`tiny SDXL ControlNet: no LDM name for ${t.name}`);
      return { ...t, name: `${LDM_CONTROLNET_PREFIX}${k}` };
    });
    await writeSafetensors(join(dir, 'control_sdxl_tiny.safetensors'), tensors);
    return join(dir, 'control_sdxl_tiny.safetensors');
  }
  await writeSafetensors(join(dir, 'diffusion_pytorch_model.safetensors'), tensors);
  return dir;
}

/** The golden tiny SDXL as a 9-channel inpainting checkpoint (diffusers folder; the UNet's weights random). */
export async function writeTinySdxlInpaint(dir: string): Promise<string> {
  for (const sub of ['unet', 'vae', 'text_encoder', 'text_encoder_2', 'tokenizer', 'tokenizer_2', 'scheduler']) mkdirSync(join(dir, sub), { recursive: true });
  copyFileSync(join(SDXL_GOLDEN, 'model_index.json'), join(dir, 'model_index.json'));
  const raw = { ...json(join(SDXL_GOLDEN, 'unet', 'config.json')), in_channels: 9 };
  writeFileSync(join(dir, 'unet', 'config.json'), JSON.stringify(raw));
  const g = buildUNetGraph(parseUNetConfig(raw), { batch: 1, height: 8, width: 8, seqLen: 77 });
  await writeSafetensors(join(dir, 'unet', 'diffusion_pytorch_model.safetensors'), randomTensors(g, 31));
  const files: [string, string[]][] = [['vae', ['config.json', 'diffusion_pytorch_model.safetensors']], ['text_encoder', ['config.json', 'model.safetensors']], ['text_encoder_2', ['config.json', 'model.safetensors']], ['tokenizer', ['special_tokens_map.json', 'tokenizer_config.json']], ['tokenizer_2', ['special_tokens_map.json', 'tokenizer_config.json']], ['scheduler', ['scheduler_config.json']]];
  for (const [sub, names] of files) for (const f of names) copyFileSync(join(SDXL_GOLDEN, sub, f), join(dir, sub, f));
  return dir;
}

/**
 * A tiny SDXL whose sizes follow the released models' rules that single-file config inference relies on (64-wide
 * attention heads, 32 norm groups, addition_time_embed_dim 256, bigG's projection = its pooled width), so its
 * single file needs no side configs: UNet 64/128 (context 64 ‖ 64, pooled 64 + 6 × 256 — refiner: bigG only,
 * context 64, 64 + 5 × 256), towers 64 wide with one head, VAE 32 ×4 levels. A diffusers folder, random weights.
 */
export async function writeRealRuleTinySdxl(dir: string, kind: 'base' | 'refiner' = 'base'): Promise<string> {
  const refiner = kind === 'refiner';
  const subs = ['unet', 'vae', 'text_encoder_2', 'tokenizer_2', 'scheduler', ...(refiner ? [] : ['text_encoder', 'tokenizer'])];
  for (const sub of subs) mkdirSync(join(dir, sub), { recursive: true });
  const index = json(join(SDXL_GOLDEN, 'model_index.json'));
  writeFileSync(join(dir, 'model_index.json'), JSON.stringify(refiner ? { ...index, _class_name: 'StableDiffusionXLImg2ImgPipeline', requires_aesthetics_score: true, text_encoder: [null, null], tokenizer: [null, null] } : index));
  const unetRaw = {
    ...json(join(SDXL_GOLDEN, 'unet', 'config.json')), block_out_channels: [64, 128], attention_head_dim: [1, 2], norm_num_groups: 32,
    cross_attention_dim: refiner ? 64 : 128, addition_time_embed_dim: 256, projection_class_embeddings_input_dim: 64 + (refiner ? 5 : 6) * 256,
  };
  const write = async (sub: string, file: string, raw: Record<string, unknown>, g: Graph, seed: number) => {
    writeFileSync(join(dir, sub, 'config.json'), JSON.stringify(raw));
    await writeSafetensors(join(dir, sub, file), randomTensors(g, seed));
  };
  await write('unet', 'diffusion_pytorch_model.safetensors', unetRaw, buildUNetGraph(parseUNetConfig(unetRaw), { batch: 1, height: 8, width: 8, seqLen: 77 }), 41);
  const textL = { ...json(join(SDXL_GOLDEN, 'text_encoder', 'config.json')), hidden_size: 64, intermediate_size: 128, num_attention_heads: 1, num_hidden_layers: 2, projection_dim: 64 };
  const textG = { ...json(join(SDXL_GOLDEN, 'text_encoder_2', 'config.json')), hidden_size: 64, intermediate_size: 128, num_attention_heads: 1, num_hidden_layers: 3, projection_dim: 64 };
  if (!refiner) await write('text_encoder', 'model.safetensors', textL, clipTextGraph(parseClipTextConfig(textL, 'tiny ViT-L'), { batch: 1 }), 42);
  await write('text_encoder_2', 'model.safetensors', textG, clipTextGraph(parseClipTextConfig(textG, 'tiny bigG'), { batch: 1, withProjection: true }), 43);
  const vaeRaw = { ...json(join(SDXL_GOLDEN, 'vae', 'config.json')), block_out_channels: [32, 32, 32, 32], norm_num_groups: 32 };
  const vc = parseVaeConfig(vaeRaw);
  const vaeG = vaeDecodeGraph(vc, [1, 4, 1, 1]);
  const enc = vaeEncodeGraph(vc, [1, 3, 8, 8]);
  const tensors = [...randomTensors(vaeG, 44), ...randomTensors(enc, 45)];
  writeFileSync(join(dir, 'vae', 'config.json'), JSON.stringify(vaeRaw));
  await writeSafetensors(join(dir, 'vae', 'diffusion_pytorch_model.safetensors'), [...new Map(tensors.map((t) => [t.name, t])).values()]);
  const copies: [string, string[]][] = [['tokenizer_2', ['special_tokens_map.json', 'tokenizer_config.json']], ['scheduler', ['scheduler_config.json']], ...(refiner ? [] : [['tokenizer', ['special_tokens_map.json', 'tokenizer_config.json']] as [string, string[]]])];
  for (const [sub, names] of copies) for (const f of names) copyFileSync(join(SDXL_GOLDEN, sub, f), join(dir, sub, f));
  return dir;
}

/** A tiny full_adapter_xl T2I-Adapter (diffusers folder) whose features fit the tiny SDXL at 64². */
export async function writeTinyXlAdapter(path: string): Promise<string> {
  const raw = { _class_name: 'T2IAdapter', adapter_type: 'full_adapter_xl', channels: [16, 32, 32], in_channels: 3, downscale_factor: 16, num_res_blocks: 1 };
  const g = buildT2IAdapterGraph(parseT2IAdapterConfig(raw), { batch: 1, height: 64, width: 64 });
  const store = randomWeights(g, { seed: 7, std: 0.2 });
  const tensors: TensorToWrite[] = [...g.params.keys()].map((name) => {
    const p = store.get(name)!;
    return { name, dtype: 'F32', shape: p.shape, data: new Float32Array(p.bytes.slice().buffer) };
  });
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, 'config.json'), JSON.stringify(raw));
  await writeSafetensors(join(path, 'diffusion_pytorch_model.safetensors'), tensors);
  return path;
}

/** A tiny kohya SDXL LoRA: UNet modules by LDM and diffusers names, both towers, and one module matching nothing. */
export async function writeTinySdxlLora(path: string): Promise<string> {
  const pair = (name: string, out: number, inF: number, rank = 2): TensorToWrite[] => [
    { name: `${name}.lora_down.weight`, dtype: 'F32', shape: [rank, inF], data: Float32Array.from({ length: rank * inF }, (_, i) => Math.sin(i + 1) * 0.5) },
    { name: `${name}.lora_up.weight`, dtype: 'F32', shape: [out, rank], data: Float32Array.from({ length: out * rank }, (_, i) => Math.cos(i + 2) * 0.5) },
    { name: `${name}.alpha`, dtype: 'F32', shape: [], data: Float32Array.of(rank) },
  ];
  await writeSafetensors(path, [
    ...pair('lora_unet_input_blocks_4_1_proj_in', 32, 32), // LDM name of down_blocks.1.attentions.0.proj_in
    ...pair('lora_unet_up_blocks_0_attentions_1_transformer_blocks_0_attn2_to_k', 32, 64), // diffusers name in kohya form
    ...pair('lora_te1_text_model_encoder_layers_0_self_attn_q_proj', 32, 32),
    ...pair('lora_te2_text_model_encoder_layers_1_mlp_fc1', 48, 32),
    ...pair('lora_unet_no_such_block', 8, 8),
  ]);
  return path;
}
