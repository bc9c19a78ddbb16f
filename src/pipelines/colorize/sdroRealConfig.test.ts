// Would the released SDRO weights load unchanged? fixtures/sdro_real_config holds the real configs (SD 2.1 UNet
// + blueprint embedding, SD 2.1 VAE, CLIP ViT-L/14 vision, SD 2.1's DDPM scheduler config, the ViT-L/14
// preprocessor). This test writes header-only safetensors files (sparse: the data section is a hole, nothing is
// read) whose key names and shapes are enumerated HERE from the diffusers / transformers module structure,
// independently of our graph builders, then loads the folder with loadSdroPipeline (no compilation happens until
// an image is coloured) and checks every parameter the graphs declare against the files, and that every key in
// the files is used (bar the ones the original pipeline ignores as well).
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Graph } from '../../graph/graph.ts';
import { openSafetensors } from '../../weights/safetensors.ts';
import { writeHeaderOnly } from '../../models/checkpoint/headerOnlyKeys.ts';
import { buildUNetGraph } from '../../models/unet/load.ts';
import { vaeDecodeGraph } from '../../models/vae/decoder.ts';
import { vaeEncodeGraph } from '../../models/vae/encoder.ts';
import { clipVisionGraph } from '../../models/clip/visionEncoder.ts';
import { loadSdroPipeline, type SdroPipeline } from './sdro.ts';

type Keys = Map<string, { shape: number[]; dtype: 'F32' | 'I64' }>;

function keyList(): { add: (name: string, shape: number[], dtype?: 'F32' | 'I64') => void; keys: Keys } {
  const keys: Keys = new Map();
  return { keys, add: (name, shape, dtype = 'F32') => keys.set(name, { shape, dtype }) };
}

const norm = (add: (n: string, s: number[]) => void, p: string, c: number) => {
  add(`${p}.weight`, [c]);
  add(`${p}.bias`, [c]);
};
const conv = (add: (n: string, s: number[]) => void, p: string, cout: number, cin: number, k: number) => {
  add(`${p}.weight`, [cout, cin, k, k]);
  add(`${p}.bias`, [cout]);
};
const linear = (add: (n: string, s: number[]) => void, p: string, out: number, inF: number, bias = true) => {
  add(`${p}.weight`, [out, inF]);
  if (bias) add(`${p}.bias`, [out]);
};

/** diffusers ResnetBlock2D (temb = time embedding width, 0 for the VAE's). */
function resnet(add: (n: string, s: number[]) => void, p: string, cin: number, cout: number, temb: number): void {
  norm(add, `${p}.norm1`, cin);
  conv(add, `${p}.conv1`, cout, cin, 3);
  if (temb) linear(add, `${p}.time_emb_proj`, cout, temb);
  norm(add, `${p}.norm2`, cout);
  conv(add, `${p}.conv2`, cout, cout, 3);
  if (cin !== cout) conv(add, `${p}.conv_shortcut`, cout, cin, 1);
}

/** diffusers Transformer2DModel with one BasicTransformerBlock, linear projections (SD 2.x). */
function transformer(add: (n: string, s: number[]) => void, p: string, c: number, ctx: number): void {
  norm(add, `${p}.norm`, c);
  linear(add, `${p}.proj_in`, c, c);
  const b = `${p}.transformer_blocks.0`;
  norm(add, `${b}.norm1`, c);
  for (const q of ['to_q', 'to_k', 'to_v']) linear(add, `${b}.attn1.${q}`, c, c, false);
  linear(add, `${b}.attn1.to_out.0`, c, c);
  norm(add, `${b}.norm2`, c);
  linear(add, `${b}.attn2.to_q`, c, c, false);
  linear(add, `${b}.attn2.to_k`, c, ctx, false);
  linear(add, `${b}.attn2.to_v`, c, ctx, false);
  linear(add, `${b}.attn2.to_out.0`, c, c);
  norm(add, `${b}.norm3`, c);
  linear(add, `${b}.ff.net.0.proj`, 8 * c, c); // GEGLU: value and gate
  linear(add, `${b}.ff.net.2`, c, 4 * c);
  linear(add, `${p}.proj_out`, c, c);
}

/** UNet2DDobuleConditionModel.state_dict() for the SD 2.1 config with SDRO's blueprint embedding. */
function sdroUNetKeys(): Keys {
  const { add, keys } = keyList();
  const bo = [320, 640, 1280, 1280];
  const attn = [true, true, true, false];
  const temb = 1280;
  const ctx = 1024;
  linear(add, 'time_embedding.linear_1', temb, 320);
  linear(add, 'time_embedding.linear_2', temb, temb);
  conv(add, 'conv_in', 320, 4, 3);
  const cond = [16, 32, 96, 256];
  conv(add, 'controlnet_cond_embedding.conv_in', cond[0], 3, 3);
  for (let i = 0; i < cond.length - 1; i++) {
    conv(add, `controlnet_cond_embedding.blocks.${2 * i}`, cond[i], cond[i], 3);
    conv(add, `controlnet_cond_embedding.blocks.${2 * i + 1}`, cond[i + 1], cond[i], 3);
  }
  conv(add, 'controlnet_cond_embedding.conv_out', 320, 256, 3);
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 2; j++) {
      resnet(add, `down_blocks.${i}.resnets.${j}`, j === 0 ? (i === 0 ? bo[0] : bo[i - 1]) : bo[i], bo[i], temb);
      if (attn[i]) transformer(add, `down_blocks.${i}.attentions.${j}`, bo[i], ctx);
    }
    if (i < 3) conv(add, `down_blocks.${i}.downsamplers.0.conv`, bo[i], bo[i], 3);
  }
  resnet(add, 'mid_block.resnets.0', 1280, 1280, temb);
  transformer(add, 'mid_block.attentions.0', 1280, ctx);
  resnet(add, 'mid_block.resnets.1', 1280, 1280, temb);
  const rbo = [...bo].reverse();
  const upAttn = [false, true, true, true];
  for (let i = 0; i < 4; i++) {
    const out = rbo[i];
    const prev = i === 0 ? rbo[0] : rbo[i - 1];
    const input = rbo[Math.min(i + 1, 3)];
    for (let j = 0; j < 3; j++) {
      const skip = j === 2 ? input : out;
      resnet(add, `up_blocks.${i}.resnets.${j}`, (j === 0 ? prev : out) + skip, out, temb);
      if (upAttn[i]) transformer(add, `up_blocks.${i}.attentions.${j}`, out, ctx);
    }
    if (i < 3) conv(add, `up_blocks.${i}.upsamplers.0.conv`, out, out, 3);
  }
  norm(add, 'conv_norm_out', 320);
  conv(add, 'conv_out', 4, 320, 3);
  return keys;
}

/** AutoencoderKL.state_dict() for SD 2.1's VAE (attention as linear layers, as diffusers ≥ 0.14 saves). */
function sdVaeKeys(): Keys {
  const { add, keys } = keyList();
  const bo = [128, 256, 512, 512];
  const midAttn = (p: string) => {
    norm(add, `${p}.group_norm`, 512);
    for (const q of ['to_q', 'to_k', 'to_v', 'to_out.0']) linear(add, `${p}.${q}`, 512, 512);
  };
  conv(add, 'encoder.conv_in', 128, 3, 3);
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 2; j++) resnet(add, `encoder.down_blocks.${i}.resnets.${j}`, j === 0 ? (i === 0 ? bo[0] : bo[i - 1]) : bo[i], bo[i], 0);
    if (i < 3) conv(add, `encoder.down_blocks.${i}.downsamplers.0.conv`, bo[i], bo[i], 3);
  }
  resnet(add, 'encoder.mid_block.resnets.0', 512, 512, 0);
  midAttn('encoder.mid_block.attentions.0');
  resnet(add, 'encoder.mid_block.resnets.1', 512, 512, 0);
  norm(add, 'encoder.conv_norm_out', 512);
  conv(add, 'encoder.conv_out', 8, 512, 3);
  conv(add, 'quant_conv', 8, 8, 1);
  conv(add, 'post_quant_conv', 4, 4, 1);
  conv(add, 'decoder.conv_in', 512, 4, 3);
  resnet(add, 'decoder.mid_block.resnets.0', 512, 512, 0);
  midAttn('decoder.mid_block.attentions.0');
  resnet(add, 'decoder.mid_block.resnets.1', 512, 512, 0);
  const rbo = [...bo].reverse();
  for (let i = 0; i < 4; i++) {
    const prev = i === 0 ? rbo[0] : rbo[i - 1];
    for (let j = 0; j < 3; j++) resnet(add, `decoder.up_blocks.${i}.resnets.${j}`, j === 0 ? prev : rbo[i], rbo[i], 0);
    if (i < 3) conv(add, `decoder.up_blocks.${i}.upsamplers.0.conv`, rbo[i], rbo[i], 3);
  }
  norm(add, 'decoder.conv_norm_out', 128);
  conv(add, 'decoder.conv_out', 3, 128, 3);
  return keys;
}

/** CLIPVisionModel.state_dict() for ViT-L/14, with the position_ids buffer transformers < 4.31 saved. */
function vitL14Keys(): Keys {
  const { add, keys } = keyList();
  const d = 1024;
  const v = 'vision_model';
  add(`${v}.embeddings.class_embedding`, [d]);
  add(`${v}.embeddings.patch_embedding.weight`, [d, 3, 14, 14]);
  add(`${v}.embeddings.position_embedding.weight`, [257, d]);
  add(`${v}.embeddings.position_ids`, [1, 257], 'I64');
  norm(add, `${v}.pre_layrnorm`, d);
  for (let i = 0; i < 24; i++) {
    const l = `${v}.encoder.layers.${i}`;
    for (const q of ['k_proj', 'v_proj', 'q_proj', 'out_proj']) linear(add, `${l}.self_attn.${q}`, d, d);
    norm(add, `${l}.layer_norm1`, d);
    linear(add, `${l}.mlp.fc1`, 4096, d);
    linear(add, `${l}.mlp.fc2`, d, 4096);
    norm(add, `${l}.layer_norm2`, d);
  }
  norm(add, `${v}.post_layernorm`, d);
  return keys;
}

/** Every graph parameter must be in the file with the same shape; returns the file keys the graphs did not use. */
function checkAgainstFile(graphs: Graph[], file: string, prefix = ''): string[] {
  const reader = openSafetensors(file);
  try {
    const used = new Set<string>();
    const problems: string[] = [];
    for (const g of graphs) {
      for (const [name, id] of g.params) {
        const key = prefix + name;
        used.add(key);
        if (!reader.has(key)) problems.push(`missing ${key}`);
        else if (reader.info(key).shape.join(',') !== g.values[id].shape.join(',')) {
          problems.push(`${key}: file [${reader.info(key).shape}] vs graph [${g.values[id].shape}]`);
        }
      }
    }
    expect(problems).toEqual([]);
    return [...reader.tensors.keys()].filter((k) => !used.has(k));
  } finally {
    reader.close();
  }
}

describe('SDRO at the real SD 2.1 + ViT-L/14 configs (header-only weights)', () => {
  let dir: string;
  let pipe: SdroPipeline;
  const params: Record<string, number> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'inkflow-sdro-real-'));
    cpSync(join(import.meta.dirname, 'fixtures', 'sdro_real_config'), dir, { recursive: true });
    params.unet = writeHeaderOnly(join(dir, 'unet', 'diffusion_pytorch_model.safetensors'), sdroUNetKeys());
    params.vae = writeHeaderOnly(join(dir, 'vae', 'diffusion_pytorch_model.safetensors'), sdVaeKeys());
    params.image_encoder = writeHeaderOnly(join(dir, 'image_encoder', 'model.safetensors'), vitL14Keys());
    pipe = await loadSdroPipeline(dir, { cacheDir: false });
  });
  afterAll(async () => {
    await pipe?.release();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('enumerates the published parameter counts (SD 2.1 UNet + blueprint embedding, VAE, ViT-L/14 vision)', () => {
    // Published sizes: SD 2.1 UNet 865,910,724; its VAE 83,653,863; CLIP ViT-L/14 vision tower 303,179,776.
    // The blueprint embedding adds (3→16, 16→16, 16→32, 32→32, 32→96, 96→96, 96→256, 256→320 3×3 convs)
    // 448 + 2,320 + 4,640 + 9,248 + 27,744 + 83,040 + 221,440 + 737,600 = 1,086,480.
    expect(params.unet).toBe(865_910_724 + 1_086_480);
    expect(params.vae).toBe(83_653_863);
    expect(params.image_encoder).toBe(303_179_776);
  });

  it('loads the folder as the released model: 257 reference tokens of width 1024, 8× blueprint', () => {
    expect(pipe.referenceTokens).toBe(257);
    expect(pipe.unetConfig.crossAttentionDim).toBe(1024);
    expect(pipe.scaleFactor).toBe(8);
    expect(pipe.vaeScalingFactor).toBeCloseTo(0.18215, 10);
    // SD 2.1's saved DDPM config, rebuilt as UniPC: leading spacing with steps_offset 1, v-prediction.
    const s = pipe.createScheduler();
    s.setTimesteps(20);
    expect(s.timesteps[0]).toBe(941);
    expect(s.timesteps[19]).toBe(48);
    expect(s.config.prediction_type).toBe('v_prediction');
  });

  it('UNet graph (512² image, 257 tokens) declares exactly the file keys with the file shapes', () => {
    const g = buildUNetGraph(pipe.unetConfig, { batch: 1, height: 64, width: 64, seqLen: 257 });
    expect(g.params.size).toBe(sdroUNetKeys().size);
    expect(checkAgainstFile([g], join(dir, 'unet', 'diffusion_pytorch_model.safetensors'))).toEqual([]);
  });

  it('VAE encode + decode graphs use every key with the file shapes', async () => {
    const { parseVaeConfig } = await import('../../models/vae/config.ts');
    const { readFileSync } = await import('node:fs');
    const cfg = parseVaeConfig(JSON.parse(readFileSync(join(dir, 'vae', 'config.json'), 'utf8')));
    const graphs = [vaeDecodeGraph(cfg, [1, 4, 64, 64]), vaeEncodeGraph(cfg, [1, 3, 512, 512])];
    expect(checkAgainstFile(graphs, join(dir, 'vae', 'diffusion_pytorch_model.safetensors'))).toEqual([]);
  });

  it('CLIP vision graph uses every key but the position_ids buffer', async () => {
    const { parseClipVisionConfig } = await import('../../models/clip/config.ts');
    const { readFileSync } = await import('node:fs');
    const cfg = parseClipVisionConfig(JSON.parse(readFileSync(join(dir, 'image_encoder', 'config.json'), 'utf8')));
    const g = clipVisionGraph(cfg, { batch: 1 });
    expect(checkAgainstFile([g], join(dir, 'image_encoder', 'model.safetensors'))).toEqual(['vision_model.embeddings.position_ids']);
  });
});
