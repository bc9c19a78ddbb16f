import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../../weights/safetensors.ts';
import { openClipTextKey } from '../../weights/keymaps/ldmClip.ts';
import { ClipConfigError, parseClipTextConfig, parseClipVisionConfig } from './config.ts';
import { clipTextGraph, loadClipTextEncoder } from './textEncoder.ts';
import { clipVisionGraph, loadClipVisionEncoder } from './visionEncoder.ts';

const clipDir = resolve(process.env.INKFLOW_GOLDEN ?? join(import.meta.dirname, '../../../../shared/golden'), 'clip');
const bin = (name: string) => {
  const b = readFileSync(join(clipDir, name));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
};
const f32 = (name: string) => new Float32Array(bin(name));
const idRows = (name: string) => {
  const ids = new Int32Array(bin(name));
  return [Array.from(ids.subarray(0, 77)), Array.from(ids.subarray(77, 154))];
};
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const tmp = () => mkdtempSync(join(tmpdir(), 'inkflow-clip-'));

/** Copies tensors of golden files into a new file under other names (rename → undefined drops a tensor). */
async function rewrite(path: string, files: string[], rename: (name: string) => string | undefined, extra: TensorToWrite[] = []) {
  const out: TensorToWrite[] = [...extra];
  for (const f of files) {
    const r = openSafetensors(join(clipDir, f));
    for (const info of r.tensors.values()) {
      const to = rename(info.name);
      if (to) out.push({ name: to, dtype: 'F32', shape: info.shape, data: r.readF32(info.name) });
    }
    r.close();
  }
  await writeSafetensors(path, out);
}

describe('CLIP configs', () => {
  it('reads a full CLIPConfig (text_config / vision_config, top-level projection_dim)', () => {
    const full = { projection_dim: 768, text_config: { hidden_size: 768, num_attention_heads: 12 }, vision_config: { hidden_size: 1024, num_attention_heads: 16, patch_size: 14 } };
    expect(parseClipTextConfig(full).projection_dim).toBe(768);
    expect(parseClipVisionConfig(full).patch_size).toBe(14);
    expect(parseClipTextConfig(full).hidden_act).toBe('quick_gelu');
  });
  it('rejects bad configs naming the problem', () => {
    expect(() => parseClipTextConfig({ model_type: 'clip_vision_model' })).toThrow(/expected "clip_text_model"/);
    expect(() => parseClipTextConfig({ hidden_size: 30, num_attention_heads: 4 })).toThrow(/30 is not divisible by num_attention_heads 4/);
    expect(() => parseClipTextConfig({ hidden_act: 'relu' })).toThrow(/hidden_act/);
    expect(() => parseClipVisionConfig({ image_size: 30, patch_size: 8 })).toThrow(/not a multiple of patch_size/);
  });
});

describe('loadClipTextEncoder', () => {
  it('loads a diffusers text_encoder folder (with projection) and matches the golden outputs', async () => {
    const root = tmp();
    mkdirSync(join(root, 'text_encoder'));
    copyFileSync(join(clipDir, 'config_text_withproj.json'), join(root, 'text_encoder', 'config.json'));
    await rewrite(join(root, 'text_encoder', 'model.safetensors'), ['clip_text.safetensors', 'clip_text_projection.safetensors'], (n) => n);
    const enc = await loadClipTextEncoder(root, { cacheDir: false });
    expect(enc.hasProjection).toBe(true);
    const out = await enc.encode(idRows('text_input_ids_sd1pad.bin'));
    expect(maxAbs(out.last_hidden_state.data, f32('text_withproj__last_hidden_state.bin'))).toBeLessThan(1e-4);
    expect(maxAbs(out.text_embeds.data, f32('text_withproj__text_embeds.bin'))).toBeLessThan(1e-4);
    expect(maxAbs(out.skip_hidden_state_ln.data, f32('text_withproj__hidden_states_m2_final_ln.bin'))).toBeLessThan(1e-4);
    // A shorter window works too (the causal mask makes the first tokens independent of the rest).
    const short = await enc.encode(idRows('text_input_ids_sd1pad.bin').map((r) => r.slice(0, 5)));
    expect(short.last_hidden_state.shape).toEqual([2, 5, 32]);
    expect(maxAbs(short.skip_hidden_state.data.subarray(0, 5 * 32), f32('text_withproj__hidden_states_m2.bin').subarray(0, 5 * 32))).toBeLessThan(1e-5);
    await expect(enc.encode([[1, 2], [3]])).rejects.toThrow(/row 1 has 1 tokens, row 0 has 2/);
    await expect(enc.encode([[49408]])).rejects.toThrow(/outside the vocabulary 0..49407/);
    await enc.release();
  });

  it('loads an SD1 single file (cond_stage_model.transformer.*) among other keys', async () => {
    const path = join(tmp(), 'sd1.safetensors');
    await rewrite(path, ['clip_text.safetensors'], (n) => `cond_stage_model.transformer.${n}`, [{ name: 'model.diffusion_model.out.2.bias', dtype: 'F32', shape: [4], data: new Float32Array(4) }]);
    const enc = await loadClipTextEncoder(path, { cacheDir: false, configPath: join(clipDir, 'config_text_sd1.json') });
    expect(enc.hasProjection).toBe(false);
    const out = await enc.encode(idRows('text_input_ids_random.bin'));
    expect(maxAbs(out.pooler_output.data, f32('text_sd1_randids__pooler_output.bin'))).toBeLessThan(1e-4);
    expect(maxAbs(out.last_hidden_state.data, f32('text_sd1_randids__last_hidden_state.bin'))).toBeLessThan(1e-4);
    await enc.release();
  });

  it('loads an SD2 OpenCLIP single file (fused in_proj split into q/k/v, resblocks)', async () => {
    // OpenCLIP stores q/k/v as one in_proj; build it from the golden per-projection tensors.
    const r = openSafetensors(join(clipDir, 'clip_text.safetensors'));
    const tensors: TensorToWrite[] = [];
    const hidden = 32;
    // Three resblocks (golden layers 0, 1 and a copy of 1): the loader drops the last, as diffusers does for SD2.
    for (const [i, layer] of [[0, 0], [1, 1], [2, 1]]) {
      for (const kind of ['weight', 'bias'] as const) {
        const parts = ['q', 'k', 'v'].map((p) => r.readF32(`text_model.encoder.layers.${layer}.self_attn.${p}_proj.${kind}`));
        const fused = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
        parts.forEach((p, j) => fused.set(p, j * p.length));
        tensors.push({ name: `cond_stage_model.model.transformer.resblocks.${i}.attn.in_proj_${kind}`, dtype: 'F32', shape: kind === 'weight' ? [3 * hidden, hidden] : [3 * hidden], data: fused });
      }
      for (const info of r.tensors.values()) {
        const m = new RegExp(`^text_model\\.encoder\\.layers\\.${layer}\\.(.+)$`).exec(info.name);
        if (!m || /\.(q|k|v)_proj\./.test(m[1])) continue;
        const key = openClipTextKey(`text_model.encoder.layers.${i}.${m[1]}`, hidden);
        tensors.push({ name: `cond_stage_model.model.${key!.key}`, dtype: 'F32', shape: info.shape, data: r.readF32(info.name) });
      }
    }
    for (const n of ['text_model.embeddings.token_embedding.weight', 'text_model.embeddings.position_embedding.weight', 'text_model.final_layer_norm.weight', 'text_model.final_layer_norm.bias']) {
      tensors.push({ name: `cond_stage_model.model.${openClipTextKey(n, hidden)!.key}`, dtype: 'F32', shape: r.info(n).shape, data: r.readF32(n) });
    }
    r.close();
    const path = join(tmp(), 'sd2.safetensors');
    await writeSafetensors(path, tensors);
    // Inferred: 3 resblocks → 2 layers (the last is dropped, as diffusers converts SD2), gelu.
    const inferred = await loadClipTextEncoder(path, { cacheDir: false });
    expect(inferred.config.num_hidden_layers).toBe(2);
    expect(inferred.config.hidden_act).toBe('gelu');
    const enc = await loadClipTextEncoder(path, { cacheDir: false, configPath: join(clipDir, 'config_text_sd2.json') });
    const out = await enc.encode(idRows('text_input_ids_sd2pad.bin'));
    expect(maxAbs(out.last_hidden_state.data, f32('text_sd2__last_hidden_state.bin'))).toBeLessThan(1e-4);
    expect(maxAbs(out.pooler_output.data, f32('text_sd2__pooler_output.bin'))).toBeLessThan(1e-4);
    await enc.release();
  });

  it('explains what is missing', async () => {
    const empty = join(tmp(), 'empty.safetensors');
    await writeSafetensors(empty, [{ name: 'x', dtype: 'F32', shape: [1], data: new Float32Array(1) }]);
    await expect(loadClipTextEncoder(empty)).rejects.toThrow(ClipConfigError);
    await expect(loadClipTextEncoder(empty)).rejects.toThrow(/no CLIP text encoder weights found/);
    await expect(loadClipTextEncoder(tmp())).rejects.toThrow(/no config.json in .* or .*text_encoder/);
  });
});

describe('loadClipVisionEncoder', () => {
  it('loads an image_encoder folder and reports a wrong input size', async () => {
    const dir = tmp();
    copyFileSync(join(clipDir, 'config_vision_withproj.json'), join(dir, 'config.json'));
    await rewrite(join(dir, 'model.safetensors'), ['clip_vision.safetensors', 'clip_vision_projection.safetensors'], (n) => n);
    const enc = await loadClipVisionEncoder(dir, { cacheDir: false });
    expect(enc.hasProjection).toBe(true);
    const out = await enc.encode({ shape: [2, 3, 32, 32], data: f32('vision_pixel_values.bin') });
    expect(out.last_hidden_state.shape).toEqual([2, 17, 32]);
    expect(maxAbs(out.image_embeds.data, f32('vision_withproj__image_embeds.bin'))).toBeLessThan(1e-4);
    await expect(enc.encode({ shape: [1, 3, 64, 64], data: new Float32Array(3 * 64 * 64) })).rejects.toThrow(/pixel_values must be \[B, 3, 32, 32\], got \[1, 3, 64, 64\]/);
    await enc.release();
  });
});

describe('CLIP graphs at real sizes', () => {
  const params = (g: ReturnType<typeof clipTextGraph>) => [...g.params.values()].reduce((a, id) => a + g.values[id].shape.reduce((x, y) => x * y, 1), 0);
  it('builds openai/clip-vit-large-patch14 text and vision towers with their parameter counts', () => {
    const text = clipTextGraph(parseClipTextConfig({ hidden_size: 768, intermediate_size: 3072, num_attention_heads: 12, num_hidden_layers: 12, projection_dim: 768 }), { batch: 2 });
    expect(params(text)).toBe(123060480);
    expect(text.values[text.outputs.find((o) => o.name === 'last_hidden_state')!.id].shape).toEqual([2, 77, 768]);
    const vision = clipVisionGraph(parseClipVisionConfig({ hidden_size: 1024, intermediate_size: 4096, num_attention_heads: 16, num_hidden_layers: 24, patch_size: 14, projection_dim: 768 }), { batch: 1 });
    expect(params(vision)).toBe(303179776);
    expect(vision.values[vision.outputs.find((o) => o.name === 'last_hidden_state')!.id].shape).toEqual([1, 257, 1024]);
  });
});
