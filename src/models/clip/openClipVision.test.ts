// OpenCLIP vision tower: the open_clip-layout key map gives exactly the transformers-layout outputs on the
// same random weights; local_tokens = proj(ln_post(tokens[1:])); the reference preprocessing resize.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { numel } from '../../graph/graph.ts';
import { openSafetensors, writeSafetensors } from '../../weights/safetensors.ts';
import { safetensorsWeights } from '../../weights/store.ts';
import { detectOpenClipVisionLayout, openClipVisionKey, toOpenClipVisionTensors } from '../../weights/keymaps/openClip.ts';
import { parseClipVisionConfig } from './config.ts';
import { clipVisionEncoder, clipVisionGraph } from './visionEncoder.ts';
import { antialiasBicubicMatrix, openClipPixelsFromSigned, openClipVisionConfig, openClipVisionEncoder, openClipVisionHeads } from './openClipVision.ts';

const tmp = mkdtempSync(join(tmpdir(), 'inkflow-openclip-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296 - 0.5;
  };
}
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

// A ViT-H-14-shaped tower in miniature: 224² input, patch 14 (256 patch tokens), width 32, 2 layers, 4 heads.
const config = parseClipVisionConfig({
  hidden_size: 32, intermediate_size: 128, projection_dim: 24, num_hidden_layers: 2, num_attention_heads: 4,
  image_size: 224, patch_size: 14, hidden_act: 'gelu', layer_norm_eps: 1e-5,
});

function randomTower(seed: number): Record<string, { shape: number[]; data: Float32Array }> {
  const g = clipVisionGraph(config, { batch: 1, withProjection: true });
  const r = rng(seed);
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, id] of [...g.params].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const shape = [...g.values[id].shape];
    const isScale = /(norm|layrnorm)[^.]*\.weight$/.test(name);
    out[name] = { shape, data: Float32Array.from({ length: numel(shape) }, () => (isScale ? 1 : 0) + r() * 0.4) };
  }
  return out;
}

describe('OpenCLIP vision key map', () => {
  it('maps open_clip names (fused in_proj rows, transposed proj) and detects the ColorizeDiffusion prefix', async () => {
    expect(openClipVisionKey('vision_model.encoder.layers.3.self_attn.k_proj.weight', 1280)).toEqual({ key: 'transformer.resblocks.3.attn.in_proj_weight', rows: [1280, 2560] });
    expect(openClipVisionKey('vision_model.encoder.layers.0.mlp.fc2.bias', 1280)).toEqual({ key: 'transformer.resblocks.0.mlp.c_proj.bias' });
    expect(openClipVisionKey('visual_projection.weight', 1280)).toEqual({ key: 'proj', transpose: true });
    expect(openClipVisionKey('vision_model.embeddings.position_embedding.weight', 1280)).toEqual({ key: 'positional_embedding' });
    expect(openClipVisionKey('text_model.embeddings.token_embedding.weight', 1280)).toBeUndefined();
    expect(openClipVisionHeads(1280)).toBe(16); // ViT-H-14: head_width 80
  });

  it('a random open_clip-layout file gives exactly the transformers-layout outputs, local tokens included', async () => {
    const tower = randomTower(11);
    const hfPath = join(tmp, 'hf.safetensors');
    const ocPath = join(tmp, 'openclip.safetensors');
    await writeSafetensors(hfPath, Object.entries(tower).map(([name, t]) => ({ name, dtype: 'F32' as const, shape: t.shape, data: t.data })));
    const oc = toOpenClipVisionTensors(tower, 'cond_stage_model.visual.model.');
    expect(oc.find((t) => t.name === 'cond_stage_model.visual.model.transformer.resblocks.1.attn.in_proj_weight')?.shape).toEqual([96, 32]);
    expect(oc.find((t) => t.name === 'cond_stage_model.visual.model.proj')?.shape).toEqual([32, 24]);
    await writeSafetensors(ocPath, oc.map((t) => ({ ...t, dtype: 'F32' as const })));

    const hfReader = openSafetensors(hfPath);
    const ocReader = openSafetensors(ocPath);
    const layout = detectOpenClipVisionLayout(ocReader)!;
    expect(layout).toMatchObject({ prefix: 'cond_stage_model.visual.model.', width: 32, patchSize: 14, imageSize: 224, layers: 2, mlpWidth: 128, projectionDim: 24 });
    expect(openClipVisionConfig(layout, 4)).toEqual(config);
    const hf = clipVisionEncoder(config, safetensorsWeights(hfReader), { cacheDir: false, threads: 1 });
    const ocEnc = openClipVisionEncoder(ocReader, { heads: 4, cacheDir: false, threads: 1 })!;
    const r = rng(5);
    const pixels = { shape: [1, 3, 224, 224], data: Float32Array.from({ length: 3 * 224 * 224 }, () => r() * 4) };
    const a = await hf.encode(pixels, { localTokens: true });
    const b = await ocEnc.encode(pixels, { localTokens: true });
    expect(b.local_tokens.shape).toEqual([1, 256, 24]);
    const errs = ['last_hidden_state', 'image_embeds', 'local_tokens'].map((k) => maxAbs(a[k].data, b[k].data));
    console.log(`[openclip] open_clip layout vs transformers layout max abs diff: ${errs.map((e) => e.toExponential(1)).join(', ')}`);
    expect(errs).toEqual([0, 0, 0]);

    // local_tokens = proj(ln_post(last_hidden_state[:, 1:])), computed here on the host in float64.
    const h = a.last_hidden_state.data;
    const d = 32;
    const ln = tower['vision_model.post_layernorm.weight'].data;
    const lb = tower['vision_model.post_layernorm.bias'].data;
    const proj = tower['visual_projection.weight'].data; // [24, 32]
    const want = new Float32Array(256 * 24);
    for (let t = 0; t < 256; t++) {
      const row = h.subarray((t + 1) * d, (t + 2) * d);
      const mean = row.reduce((s, v) => s + v, 0) / d;
      const v = row.reduce((s, x) => s + (x - mean) ** 2, 0) / d;
      const n = Array.from(row, (x, i) => ((x - mean) / Math.sqrt(v + 1e-5)) * ln[i] + lb[i]);
      for (let o = 0; o < 24; o++) want[t * 24 + o] = n.reduce((s, x, i) => s + x * proj[o * d + i], 0);
    }
    const err = maxAbs(a.local_tokens.data, want);
    console.log(`[openclip] local_tokens vs host proj(ln_post(tokens[1:])) max abs diff ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-4);
    // The existing outputs are unchanged by the option.
    const plain = await hf.encode(pixels);
    expect(plain.local_tokens).toBeUndefined();
    expect(maxAbs(plain.last_hidden_state.data, a.last_hidden_state.data)).toBe(0);
    await hf.release();
    await ocEnc.release();
    hfReader.close();
    ocReader.close();
  });

  it('at ViT-H-14 size every graph parameter has an open_clip tensor of the matching shape', () => {
    const layout = { prefix: 'cond_stage_model.visual.model.', width: 1280, patchSize: 14, imageSize: 224, layers: 32, mlpWidth: 5120, projectionDim: 1024, channels: 3 };
    const cfg = openClipVisionConfig(layout);
    expect(cfg.num_attention_heads).toBe(16);
    const g = clipVisionGraph(cfg, { batch: 1, withProjection: true, localTokens: true });
    // open_clip's tensor shapes for ViT-H-14 (src/open_clip/transformer.py VisionTransformer)
    const openClipShape = (key: string): number[] => {
      if (key === 'conv1.weight') return [1280, 3, 14, 14];
      if (key === 'class_embedding') return [1280];
      if (key === 'positional_embedding') return [257, 1280];
      if (key === 'proj') return [1280, 1024];
      if (key.endsWith('in_proj_weight')) return [3840, 1280];
      if (key.endsWith('in_proj_bias')) return [3840];
      if (key.endsWith('c_fc.weight')) return [5120, 1280];
      if (key.endsWith('c_fc.bias')) return [5120];
      if (key.endsWith('c_proj.weight')) return [1280, 5120];
      if (key.endsWith('out_proj.weight')) return [1280, 1280];
      return [1280]; // layer norms, out_proj / c_proj biases
    };
    let mapped = 0;
    for (const [name, id] of g.params) {
      const k = openClipVisionKey(name, 1280);
      expect(k, name).toBeDefined();
      const src = openClipShape(k!.key);
      const served = k!.rows ? [k!.rows[1] - k!.rows[0], ...src.slice(1)] : k!.transpose ? [src[1], src[0]] : src;
      expect(served, name).toEqual([...g.values[id].shape]);
      mapped++;
    }
    expect(mapped).toBe(32 * 16 + 8); // per layer: 2 LN × 2, q/k/v/out × 2, fc1/fc2 × 2
    expect([...g.values[g.outputs.find((o) => o.name === 'local_tokens')!.id].shape]).toEqual([1, 256, 1024]);
  });

  it('returns undefined for files without a vision tower and refuses one without proj', async () => {
    const p = join(tmp, 'none.safetensors');
    await writeSafetensors(p, [{ name: 'model.diffusion_model.out.2.weight', dtype: 'F32', shape: [1], data: new Float32Array(1) }]);
    const rd = openSafetensors(p);
    expect(openClipVisionEncoder(rd)).toBeUndefined();
    rd.close();
    const tower = randomTower(1);
    delete (tower as Record<string, unknown>)['visual_projection.weight'];
    const q = join(tmp, 'noproj.safetensors');
    await writeSafetensors(q, toOpenClipVisionTensors(tower).map((t) => ({ ...t, dtype: 'F32' as const })));
    const rq = openSafetensors(q);
    expect(() => openClipVisionEncoder(rq, { heads: 4 })).toThrow(/has no proj/);
    rq.close();
  });
});

describe('OpenCLIP reference preprocessing (torch bicubic, align_corners=True, antialias=True)', () => {
  it('weights: rows sum to 1, the same size is the identity, downscaling widens the kernel', () => {
    const id = antialiasBicubicMatrix(7, 7);
    for (let i = 0; i < 7; i++) for (let j = 0; j < 7; j++) expect(id[i * 7 + j]).toBeCloseTo(i === j ? 1 : 0, 12);
    const down = antialiasBicubicMatrix(448, 224);
    for (let i = 0; i < 224; i++) {
      let s = 0;
      let taps = 0;
      for (let j = 0; j < 448; j++) (s += down[i * 448 + j]), (taps += down[i * 448 + j] !== 0 ? 1 : 0);
      expect(s).toBeCloseTo(1, 12);
      if (i > 4 && i < 219) expect(taps).toBeGreaterThan(4); // support 2·scale ≈ 4 input pixels each side
    }
    // A linear ramp stays (nearly) linear inside: sample position scale·(i + ½) − ½ with scale = 447/223.
    const scale = 447 / 223;
    for (const i of [20, 100, 200]) {
      let v = 0;
      for (let j = 0; j < 448; j++) v += down[i * 448 + j] * j;
      expect(v).toBeCloseTo(scale * (i + 0.5) - 0.5, 4); // the widened kernel is sampled off-grid: linear to ~1e-5
    }
  });
  it('maps [−1, 1] to CLIP-normalised pixels at 224² (aspect not kept)', () => {
    const img = { shape: [1, 3, 64, 96], data: new Float32Array(3 * 64 * 96).fill(1) };
    const px = openClipPixelsFromSigned(img, 224);
    expect(px.shape).toEqual([1, 3, 224, 224]);
    expect(px.data[0]).toBeCloseTo((1 - 0.48145466) / 0.26862954, 5);
    expect(px.data[2 * 224 * 224 + 500]).toBeCloseTo((1 - 0.40821073) / 0.27577711, 5);
    expect(() => openClipPixelsFromSigned({ shape: [1, 1, 4, 4], data: new Float32Array(16) }, 224)).toThrow(/\[B,3,H,W\]/);
  });
});
