// Would a released SDXL ControlNet load unchanged? Header-only fp16 files (no weights) with the key names and
// shapes of diffusers/controlnet-canny-sdxl-1.0 (its config.json: 3 levels 320/640/1280, DownBlock2D first,
// transformer depth 1/2/10, linear projections, context 2048, text_time 2816 = 1280 + 6 × 256, hint encoder
// 16/32/96/256), enumerated HERE from diffusers' ControlNetModel module names — and the same network in the
// original cldm layout (control_model.* with label_emb, input_hint_block, zero_convs, middle_block_out) from
// sgm's names. Both must map every graph parameter to a tensor of the right shape and leave nothing unread.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conv, keyList, linear, norm, paramCount, resBlock, spatialTransformer, writeHeaderOnly, type Add } from '../checkpoint/headerOnlyKeys.ts';
import { controlNetKeyCoverage } from './keyCoverage.ts';

/** diffusers/controlnet-canny-sdxl-1.0 config.json (as published). */
const CANNY_SDXL_CONFIG = {
  _class_name: 'ControlNetModel', _diffusers_version: '0.24.0.dev0', act_fn: 'silu', addition_embed_type: 'text_time',
  addition_embed_type_num_heads: 64, addition_time_embed_dim: 256, attention_head_dim: [5, 10, 20], block_out_channels: [320, 640, 1280],
  class_embed_type: null, conditioning_channels: 3, conditioning_embedding_out_channels: [16, 32, 96, 256], controlnet_conditioning_channel_order: 'rgb',
  cross_attention_dim: 2048, down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'], downsample_padding: 1,
  encoder_hid_dim: null, encoder_hid_dim_type: null, flip_sin_to_cos: true, freq_shift: 0, global_pool_conditions: false, in_channels: 4,
  layers_per_block: 2, mid_block_scale_factor: 1, norm_eps: 1e-5, norm_num_groups: 32, num_attention_heads: null, num_class_embeds: null,
  only_cross_attention: false, projection_class_embeddings_input_dim: 2816, resnet_time_scale_shift: 'default', transformer_layers_per_block: [1, 2, 10],
  upcast_attention: null, use_linear_projection: true,
};

const CH = [320, 640, 1280];
const ATTN = [false, true, true];
const DEPTH = [0, 2, 10];
const MID_DEPTH = 10;
const CTX = 2048;
const ADM = 2816;
const HINT = [16, 32, 96, 256];
const TEMB = 1280;

/** diffusers ResnetBlock2D. */
function resnet(add: Add, p: string, cin: number, cout: number): void {
  norm(add, `${p}.norm1`, cin);
  conv(add, `${p}.conv1`, cout, cin, 3);
  linear(add, `${p}.time_emb_proj`, cout, TEMB);
  norm(add, `${p}.norm2`, cout);
  conv(add, `${p}.conv2`, cout, cout, 3);
  if (cin !== cout) conv(add, `${p}.conv_shortcut`, cout, cin, 1);
}

/** diffusers ControlNetModel state dict names and shapes. */
function diffusersControlNetKeys(add: Add): void {
  conv(add, 'conv_in', CH[0], 4, 3);
  linear(add, 'time_embedding.linear_1', TEMB, CH[0]);
  linear(add, 'time_embedding.linear_2', TEMB, TEMB);
  linear(add, 'add_embedding.linear_1', TEMB, ADM);
  linear(add, 'add_embedding.linear_2', TEMB, TEMB);
  conv(add, 'controlnet_cond_embedding.conv_in', HINT[0], 3, 3);
  for (let i = 0; i < HINT.length - 1; i++) {
    conv(add, `controlnet_cond_embedding.blocks.${2 * i}`, HINT[i], HINT[i], 3);
    conv(add, `controlnet_cond_embedding.blocks.${2 * i + 1}`, HINT[i + 1], HINT[i], 3);
  }
  conv(add, 'controlnet_cond_embedding.conv_out', CH[0], HINT[HINT.length - 1], 3);
  const skips = [CH[0]];
  let cur = CH[0];
  CH.forEach((c, i) => {
    for (let j = 0; j < 2; j++) {
      resnet(add, `down_blocks.${i}.resnets.${j}`, cur, c);
      if (ATTN[i]) spatialTransformer(add, `down_blocks.${i}.attentions.${j}`, c, DEPTH[i], CTX);
      skips.push((cur = c));
    }
    if (i < CH.length - 1) {
      conv(add, `down_blocks.${i}.downsamplers.0.conv`, c, c, 3);
      skips.push(c);
    }
  });
  resnet(add, 'mid_block.resnets.0', cur, cur);
  spatialTransformer(add, 'mid_block.attentions.0', cur, MID_DEPTH, CTX);
  resnet(add, 'mid_block.resnets.1', cur, cur);
  skips.forEach((c, k) => conv(add, `controlnet_down_blocks.${k}`, c, c, 1));
  conv(add, 'controlnet_mid_block', cur, cur, 1);
}

/** The same network as lllyasviel's cldm ControlNet (sgm blocks) under control_model. */
function cldmControlNetKeys(add: Add): void {
  const P = 'control_model.';
  linear(add, `${P}time_embed.0`, TEMB, CH[0]);
  linear(add, `${P}time_embed.2`, TEMB, TEMB);
  linear(add, `${P}label_emb.0.0`, TEMB, ADM);
  linear(add, `${P}label_emb.0.2`, TEMB, TEMB);
  // input_hint_block: conv, SiLU, (conv, SiLU, conv stride 2, SiLU) × 3, zero conv.
  conv(add, `${P}input_hint_block.0`, HINT[0], 3, 3);
  let k = 2;
  for (let i = 0; i < HINT.length - 1; i++) {
    conv(add, `${P}input_hint_block.${k}`, HINT[i], HINT[i], 3);
    conv(add, `${P}input_hint_block.${k + 2}`, HINT[i + 1], HINT[i], 3);
    k += 4;
  }
  conv(add, `${P}input_hint_block.${k}`, CH[0], HINT[HINT.length - 1], 3);
  conv(add, `${P}input_blocks.0.0`, CH[0], 4, 3);
  const skips = [CH[0]];
  let cur = CH[0];
  let idx = 1;
  CH.forEach((c, i) => {
    for (let j = 0; j < 2; j++, idx++) {
      resBlock(add, `${P}input_blocks.${idx}.0`, cur, c, TEMB);
      if (ATTN[i]) spatialTransformer(add, `${P}input_blocks.${idx}.1`, c, DEPTH[i], CTX);
      skips.push((cur = c));
    }
    if (i < CH.length - 1) {
      conv(add, `${P}input_blocks.${idx++}.0.op`, c, c, 3);
      skips.push(c);
    }
  });
  resBlock(add, `${P}middle_block.0`, cur, cur, TEMB);
  spatialTransformer(add, `${P}middle_block.1`, cur, MID_DEPTH, CTX);
  resBlock(add, `${P}middle_block.2`, cur, cur, TEMB);
  skips.forEach((c, z) => conv(add, `${P}zero_convs.${z}.0`, c, c, 1));
  conv(add, `${P}middle_block_out.0`, cur, cur, 1);
}

describe('SDXL ControlNet files (real key names and shapes, header-only fp16)', () => {
  let dir: string;
  const diffusers = keyList();
  const cldm = keyList();

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'inkflow-sdxl-cn-real-'));
    diffusersControlNetKeys(diffusers.add);
    cldmControlNetKeys(cldm.add);
    mkdirSync(join(dir, 'controlnet-canny-sdxl-1.0'));
    writeFileSync(join(dir, 'controlnet-canny-sdxl-1.0', 'config.json'), JSON.stringify(CANNY_SDXL_CONFIG));
    writeHeaderOnly(join(dir, 'controlnet-canny-sdxl-1.0', 'diffusion_pytorch_model.fp16.safetensors'), diffusers.keys);
    writeHeaderOnly(join(dir, 'controlnet_sdxl_canny_cldm.safetensors'), cldm.keys);
    // A bare diffusers-keyed file with no config.json beside it: the config is inferred from the shapes.
    writeHeaderOnly(join(dir, 'diffusers_xl_canny_full.safetensors'), diffusers.keys);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('both enumerations are the same network (~1.25 G parameters: the published 2.5 GB fp16 file)', () => {
    const n = paramCount(diffusers.keys, '');
    expect(paramCount(cldm.keys, 'control_model.')).toBe(n);
    expect(diffusers.keys.size).toBe(cldm.keys.size);
    expect(Math.round((2 * n) / 1e8) / 10).toBe(2.5);
  });

  it('diffusers folder (config.json): every parameter found, nothing unread, SDXL added conditioning', () => {
    const cov = controlNetKeyCoverage(join(dir, 'controlnet-canny-sdxl-1.0'));
    console.log('[sdxl controlnet keys] diffusers', cov.params, 'params', cov.found, 'found');
    expect(cov.missing).toEqual([]);
    expect(cov.unused).toEqual([]);
    expect(cov.found).toBe(diffusers.keys.size);
    const u = cov.checkpoint.config.unet;
    expect(u.addition).toMatchObject({ textEmbedDim: 1280, timeIds: 6, timeEmbedDim: 256 });
    expect(u.down.map((d) => [d.attention, d.transformerLayers, d.heads])).toEqual([[false, 1, 5], [true, 2, 10], [true, 10, 20]]);
    expect(u.mid.transformerLayers).toBe(10);
  });

  it('the same file without config.json: config inferred from the shapes matches the published one', () => {
    const inferred = controlNetKeyCoverage(join(dir, 'diffusers_xl_canny_full.safetensors'));
    const given = controlNetKeyCoverage(join(dir, 'controlnet-canny-sdxl-1.0'));
    expect(inferred.missing).toEqual([]);
    expect(inferred.unused).toEqual([]);
    expect(inferred.checkpoint.config).toEqual(given.checkpoint.config);
  });

  it('cldm single file (control_model.*, label_emb): every parameter found, nothing unread, config inferred', () => {
    const cov = controlNetKeyCoverage(join(dir, 'controlnet_sdxl_canny_cldm.safetensors'));
    expect(cov.checkpoint.layout).toBe('ldm');
    expect(cov.missing).toEqual([]);
    expect(cov.unused).toEqual([]);
    expect(cov.found).toBe(cldm.keys.size);
    expect(cov.checkpoint.config).toEqual(controlNetKeyCoverage(join(dir, 'controlnet-canny-sdxl-1.0')).checkpoint.config);
  });
});
