// Would the released SDXL base 1.0 and refiner 1.0 single files load unchanged? This test writes header-only
// fp16 safetensors files (sparse: the data section is a hole) whose key names and shapes are enumerated HERE
// from sgm's module structure (openaimodel UNetModel with SpatialTransformer, FrozenCLIPEmbedder,
// FrozenOpenCLIPEmbedder2, AutoencoderKL), independently of our graph builders and key maps. The counts match
// the published parameter counts. Then loadSdxlCheckpoint opens each file (no compilation) and sdxlKeyCoverage
// checks that every parameter our graphs declare has its tensor with the right shape, and names the file keys
// nothing reads.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSafetensors } from '../../weights/safetensors.ts';
import { ldmClipTextWeights } from '../../weights/keymaps/ldmClip.ts';
import { buildUNetGraph, unetWeights } from '../unet/load.ts';
import { numel } from '../../graph/graph.ts';
import { BASE_G_PREFIX, loadSdxlCheckpoint, REFINER_G_PREFIX, type SdxlCheckpoint } from './sdxlCheckpoint.ts';
import { sdxlKeyCoverage } from './sdxlKeyCoverage.ts';
import { chooseResidency, estimateMemory } from './memoryEstimate.ts';
import { conv, keyList, linear, norm, paramCount, resBlock, spatialTransformer, writeHeaderOnly, type Add } from './headerOnlyKeys.ts';

const TOKENIZER_DIR = join(import.meta.dirname, '../../../../shared/data/clip-tokenizer');

interface SgmUNetSpec { ch: number[]; attn: boolean[]; depth: number[]; midDepth: number; ctx: number; adm: number }

/** sgm UNetModel (num_res_blocks 2, adm label_emb) under model.diffusion_model. */
function sgmUNetKeys(add: Add, s: SgmUNetSpec): void {
  const P = 'model.diffusion_model.';
  const temb = s.ch[0] * 4;
  linear(add, `${P}time_embed.0`, temb, s.ch[0]);
  linear(add, `${P}time_embed.2`, temb, temb);
  linear(add, `${P}label_emb.0.0`, temb, s.adm);
  linear(add, `${P}label_emb.0.2`, temb, temb);
  conv(add, `${P}input_blocks.0.0`, s.ch[0], 4, 3);
  const skips = [s.ch[0]];
  let cur = s.ch[0];
  let idx = 1;
  s.ch.forEach((c, i) => {
    for (let j = 0; j < 2; j++, idx++) {
      resBlock(add, `${P}input_blocks.${idx}.0`, cur, c, temb);
      if (s.attn[i]) spatialTransformer(add, `${P}input_blocks.${idx}.1`, c, s.depth[i], s.ctx);
      skips.push((cur = c));
    }
    if (i < s.ch.length - 1) {
      conv(add, `${P}input_blocks.${idx++}.0.op`, cur, cur, 3);
      skips.push(cur);
    }
  });
  resBlock(add, `${P}middle_block.0`, cur, cur, temb);
  spatialTransformer(add, `${P}middle_block.1`, cur, s.midDepth, s.ctx);
  resBlock(add, `${P}middle_block.2`, cur, cur, temb);
  idx = 0;
  for (let r = s.ch.length - 1; r >= 0; r--) {
    for (let j = 0; j < 3; j++, idx++) {
      resBlock(add, `${P}output_blocks.${idx}.0`, cur + skips.pop()!, s.ch[r], temb);
      cur = s.ch[r];
      if (s.attn[r]) spatialTransformer(add, `${P}output_blocks.${idx}.1`, cur, s.depth[r], s.ctx);
      if (j === 2 && r > 0) conv(add, `${P}output_blocks.${idx}.${s.attn[r] ? 2 : 1}.conv`, cur, cur, 3);
    }
  }
  norm(add, `${P}out.0`, s.ch[0]);
  conv(add, `${P}out.2`, 4, s.ch[0], 3);
}

/** transformers CLIPTextModel ViT-L/14 under conditioner.embedders.0.transformer. (position_ids buffer included). */
function clipLKeys(add: Add, addI64: Add): void {
  const t = 'conditioner.embedders.0.transformer.text_model';
  add(`${t}.embeddings.token_embedding.weight`, [49408, 768]);
  add(`${t}.embeddings.position_embedding.weight`, [77, 768]);
  addI64(`${t}.embeddings.position_ids`, [1, 77]);
  for (let i = 0; i < 12; i++) {
    const l = `${t}.encoder.layers.${i}`;
    for (const q of ['k_proj', 'v_proj', 'q_proj', 'out_proj']) linear(add, `${l}.self_attn.${q}`, 768, 768);
    norm(add, `${l}.layer_norm1`, 768);
    linear(add, `${l}.mlp.fc1`, 3072, 768);
    linear(add, `${l}.mlp.fc2`, 768, 3072);
    norm(add, `${l}.layer_norm2`, 768);
  }
  norm(add, `${t}.final_layer_norm`, 768);
}

/** open_clip ViT-bigG-14 text tower (visual deleted) under `prefix`. */
function openClipBigGKeys(add: Add, prefix: string): void {
  const d = 1280;
  add(`${prefix}token_embedding.weight`, [49408, d]);
  add(`${prefix}positional_embedding`, [77, d]);
  add(`${prefix}text_projection`, [d, d]);
  add(`${prefix}logit_scale`, []);
  norm(add, `${prefix}ln_final`, d);
  for (let i = 0; i < 32; i++) {
    const r = `${prefix}transformer.resblocks.${i}`;
    norm(add, `${r}.ln_1`, d);
    add(`${r}.attn.in_proj_weight`, [3 * d, d]);
    add(`${r}.attn.in_proj_bias`, [3 * d]);
    linear(add, `${r}.attn.out_proj`, d, d);
    norm(add, `${r}.ln_2`, d);
    linear(add, `${r}.mlp.c_fc`, 4 * d, d);
    linear(add, `${r}.mlp.c_proj`, d, 4 * d);
  }
}

/** LDM AutoencoderKL (ch 128, mult 1,2,4,4, 2 res blocks, z 4) under first_stage_model. */
function ldmVaeKeys(add: Add): void {
  const P = 'first_stage_model.';
  const bo = [128, 256, 512, 512];
  const res = (p: string, cin: number, cout: number) => {
    norm(add, `${p}.norm1`, cin);
    conv(add, `${p}.conv1`, cout, cin, 3);
    norm(add, `${p}.norm2`, cout);
    conv(add, `${p}.conv2`, cout, cout, 3);
    if (cin !== cout) conv(add, `${p}.nin_shortcut`, cout, cin, 1);
  };
  const mid = (p: string) => {
    res(`${p}.mid.block_1`, 512, 512);
    norm(add, `${p}.mid.attn_1.norm`, 512);
    for (const q of ['q', 'k', 'v', 'proj_out']) conv(add, `${p}.mid.attn_1.${q}`, 512, 512, 1);
    res(`${p}.mid.block_2`, 512, 512);
  };
  conv(add, `${P}encoder.conv_in`, 128, 3, 3);
  let cur = 128;
  bo.forEach((c, i) => {
    for (let j = 0; j < 2; j++) res(`${P}encoder.down.${i}.block.${j}`, j ? c : cur, c);
    cur = c;
    if (i < 3) conv(add, `${P}encoder.down.${i}.downsample.conv`, c, c, 3);
  });
  mid(`${P}encoder`);
  norm(add, `${P}encoder.norm_out`, 512);
  conv(add, `${P}encoder.conv_out`, 8, 512, 3);
  conv(add, `${P}quant_conv`, 8, 8, 1);
  conv(add, `${P}post_quant_conv`, 4, 4, 1);
  conv(add, `${P}decoder.conv_in`, 512, 4, 3);
  mid(`${P}decoder`);
  cur = 512;
  for (let i = 3; i >= 0; i--) {
    for (let j = 0; j < 3; j++) res(`${P}decoder.up.${i}.block.${j}`, j ? bo[i] : cur, bo[i]);
    cur = bo[i];
    if (i > 0) conv(add, `${P}decoder.up.${i}.upsample.conv`, cur, cur, 3);
  }
  norm(add, `${P}decoder.norm_out`, 128);
  conv(add, `${P}decoder.conv_out`, 3, 128, 3);
}

const BASE: SgmUNetSpec = { ch: [320, 640, 1280], attn: [false, true, true], depth: [0, 2, 10], midDepth: 10, ctx: 2048, adm: 2816 };
const REFINER: SgmUNetSpec = { ch: [384, 768, 1536, 1536], attn: [false, true, true, false], depth: [0, 4, 4, 0], midDepth: 4, ctx: 1280, adm: 2560 };

describe('SDXL 1.0 base and refiner single files (real key names and shapes, header-only fp16)', () => {
  let dir: string;
  const base = keyList();
  const refiner = keyList();
  let baseCkpt: SdxlCheckpoint;
  let refinerCkpt: SdxlCheckpoint;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'inkflow-sdxl-real-'));
    sgmUNetKeys(base.add, BASE);
    clipLKeys(base.add, base.addI64);
    openClipBigGKeys(base.add, BASE_G_PREFIX);
    ldmVaeKeys(base.add);
    sgmUNetKeys(refiner.add, REFINER);
    openClipBigGKeys(refiner.add, REFINER_G_PREFIX);
    ldmVaeKeys(refiner.add);
    writeHeaderOnly(join(dir, 'sd_xl_base_1.0.safetensors'), base.keys);
    writeHeaderOnly(join(dir, 'sd_xl_refiner_1.0.safetensors'), refiner.keys);
    baseCkpt = loadSdxlCheckpoint(join(dir, 'sd_xl_base_1.0.safetensors'), { tokenizerDir: TOKENIZER_DIR, cacheDir: false });
    refinerCkpt = loadSdxlCheckpoint(join(dir, 'sd_xl_refiner_1.0.safetensors'), { tokenizerDir: TOKENIZER_DIR, cacheDir: false });
  });
  afterAll(async () => {
    await baseCkpt?.release();
    await refinerCkpt?.release();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('enumerates the published parameter counts', () => {
    // SDXL base UNet 2,567,463,684; SDXL VAE 83,653,863; CLIP ViT-L/14 text 123,060,480;
    // OpenCLIP ViT-bigG/14 text with projection 694,659,840 (+ the scalar logit_scale).
    expect(paramCount(base.keys, 'model.diffusion_model.')).toBe(2_567_463_684);
    expect(paramCount(base.keys, 'first_stage_model.')).toBe(83_653_863);
    expect(paramCount(base.keys, 'conditioner.embedders.0.')).toBe(123_060_480);
    expect(paramCount(base.keys, BASE_G_PREFIX)).toBe(694_659_840 + 1);
    expect(paramCount(refiner.keys, REFINER_G_PREFIX)).toBe(694_659_840 + 1);
  });

  it('loads the base: 3 levels, heads 5/10/20, context 2048, pooled 1280 + 6 time ids, both towers whole', () => {
    const c = baseCkpt.unetConfig;
    expect(baseCkpt.kind).toBe('base');
    expect(c.blockOutChannels).toEqual([320, 640, 1280]);
    expect(c.down.map((d) => [d.attention, d.transformerLayers, d.heads])).toEqual([[false, 1, 5], [true, 2, 10], [true, 10, 20]]);
    expect(c.mid.transformerLayers).toBe(10);
    expect(c.crossAttentionDim).toBe(2048);
    expect(c.addition).toMatchObject({ textEmbedDim: 1280, timeIds: 6, timeEmbedDim: 256 });
    expect(baseCkpt.textL!.config).toMatchObject({ hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, hidden_act: 'quick_gelu' });
    expect(baseCkpt.textG.config).toMatchObject({ hidden_size: 1280, num_hidden_layers: 32, num_attention_heads: 20, hidden_act: 'gelu', projection_dim: 1280 });
    expect(baseCkpt.textL!.padToken).toBe(49407);
    expect(baseCkpt.textG.padToken).toBe(0);
    expect(baseCkpt.latentScale).toBeCloseTo(0.13025, 8);
    expect(baseCkpt.vaeScaleFactor).toBe(8);
  });

  it('loads the refiner: 4 levels, heads 6/12/24, context 1280, pooled 1280 + 5 time ids (aesthetic score), bigG only', () => {
    const c = refinerCkpt.unetConfig;
    expect(refinerCkpt.kind).toBe('refiner');
    expect(refinerCkpt.textL).toBeUndefined();
    expect(c.blockOutChannels).toEqual([384, 768, 1536, 1536]);
    expect(c.down.map((d) => [d.attention, d.heads])).toEqual([[false, 6], [true, 12], [true, 24], [false, 24]]);
    expect(c.mid.transformerLayers).toBe(4);
    expect(c.crossAttentionDim).toBe(1280);
    expect(c.addition).toMatchObject({ textEmbedDim: 1280, timeIds: 5 });
  });

  it('base: every graph parameter has its tensor; only the position_ids and logit_scale buffers go unread', () => {
    const cov = sdxlKeyCoverage(baseCkpt);
    console.log('[sdxl keys] base', JSON.stringify(cov.components), 'unused', cov.unused);
    expect(cov.missing).toEqual([]);
    expect(cov.unused).toEqual(['conditioner.embedders.0.transformer.text_model.embeddings.position_ids', 'conditioner.embedders.1.model.logit_scale']);
    expect(cov.usedKeys + cov.unused.length).toBe(base.keys.size);
  });

  it('refiner: every graph parameter has its tensor; only logit_scale goes unread', () => {
    const cov = sdxlKeyCoverage(refinerCkpt);
    console.log('[sdxl keys] refiner', JSON.stringify(cov.components), 'unused', cov.unused);
    expect(cov.missing).toEqual([]);
    expect(cov.unused).toEqual(['conditioner.embedders.0.model.logit_scale']);
    expect(cov.usedKeys + cov.unused.length).toBe(refiner.keys.size);
  });

  it('fp16 tensors stay fp16-stored, including the split bigG in_proj and the transposed projection', () => {
    const r = openSafetensors(join(dir, 'sd_xl_base_1.0.safetensors'));
    try {
      const g = ldmClipTextWeights(r, { kind: 'openclip', prefix: BASE_G_PREFIX, layers: 32 });
      const q = g.get('text_model.encoder.layers.31.self_attn.v_proj.bias')!;
      expect([q.shape, q.sourceDType]).toEqual([[1280], 'f16']);
      expect(g.get('text_projection.weight')!.sourceDType).toBe('f16');
      const u = unetWeights(r, baseCkpt.unetConfig).store.get('add_embedding.linear_1.weight')!;
      expect([u.shape, u.sourceDType]).toEqual([[1280, 2816], 'f16']);
    } finally {
      r.close();
    }
  });

  it('memory estimate: fp16 weights counted from the configs; residency chosen for a budget, or a clear refusal', () => {
    expect(baseCkpt.weightBytes).toBe(2);
    const models = { unetConfig: baseCkpt.unetConfig, vaeConfig: baseCkpt.vaeConfig, textConfigs: [baseCkpt.textL!.config, baseCkpt.textG.config], bytesPerWeight: baseCkpt.weightBytes, vaeScaleFactor: 8 };
    const e = estimateMemory(models, { width: 1024, height: 1024, batch: 1, cfg: 7 });
    // f16 but for the convolution kernels and the vectors (norm scales, biases), which run as f32.
    const g = buildUNetGraph(baseCkpt.unetConfig, { batch: 1, height: 8, width: 8, seqLen: 1 });
    const asF32 = [...g.params.values()].map((id) => g.values[id].shape).filter((s) => s.length === 4 || s.length === 1 || numel(s) < 1024).reduce((n, s) => n + numel(s), 0);
    expect(asF32).toBeGreaterThan(300e6); // SDXL's convolutions: ~13 % of its 2.57 B weights
    expect(e.unetWeights).toBe(2 * 2_567_463_684 + 2 * asF32);
    // The towers without bigG's projection (the pooled output reads it; 1280² more) and the decoder half of the VAE;
    // their vectors (biases, norms) run as f32.
    expect(e.textWeights).toBeGreaterThan(2 * (123_060_480 + 694_659_840 - 1280 * 1280));
    expect(e.textWeights).toBeLessThan(2.01 * (123_060_480 + 694_659_840 - 1280 * 1280));
    expect(e.oneResident).toBeLessThan(e.allResident);
    expect(chooseResidency(e, 24 * 2 ** 30, 'SDXL 1024²')).toBe('all');
    expect(chooseResidency(e, e.oneResident, 'SDXL 1024²')).toBe('one');
    expect(() => chooseResidency(e, 4 * 2 ** 30, 'SDXL 1024² b1')).toThrow(/SDXL 1024² b1 needs about \d+\.\d GB even with one model resident at a time \(UNet 5\.4 GB weights/);
    const big = estimateMemory(models, { width: 2048, height: 2048, batch: 2, cfg: 7 });
    expect(big.unetActivations).toBe(8 * e.unetActivations);
  });
});
