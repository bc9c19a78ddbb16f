// Family / prediction detection, LoRA path resolution, embedding files and the extended token table.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensors, writeSafetensors } from '../../weights/safetensors.ts';
import { memoryWeights } from '../../graph/weights.ts';
import { detectFamily, detectPrediction, predictionFromSchedulerConfig } from './family.ts';
import { resolveLoraPath } from './loras.ts';
import { UnsafePathError } from '../../files/safePath.ts';
import { embeddingLibrary, extendTokenTable, readEmbeddingFile } from './embeddings.ts';
import { createResidency } from './residency.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const f32 = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));

async function file(name: string, tensors: Record<string, { shape: number[]; data: Float32Array }>, metadata?: Record<string, string>) {
  const path = join(dir, name);
  await writeSafetensors(path, Object.entries(tensors).map(([k, t]) => ({ name: k, dtype: 'F32', shape: t.shape, data: t.data })), metadata);
  return openSafetensors(path);
}

describe('checkpoint family and prediction', () => {
  it('family from the text-encoder layout and context width', () => {
    expect(detectFamily('transformers', 768)).toBe('sd1');
    expect(detectFamily('openclip', 1024)).toBe('sd2');
    expect(detectFamily(undefined, 1024)).toBe('sd2');
    expect(detectFamily(undefined, 32)).toBe('sd1');
  });

  it('prediction: option > metadata > file name > SD2 norm heuristic > eps', async () => {
    const key = 'model.diffusion_model.output_blocks.11.1.transformer_blocks.0.norm1.bias';
    const wide = await file('sd2-768.safetensors', { [key]: { shape: [8], data: f32(8, (i) => (i % 2 ? 0.2 : -0.2)) } });
    const narrow = await file('sd2-base.safetensors', { [key]: { shape: [8], data: f32(8, (i) => (i % 2 ? 0.01 : -0.01)) } });
    const meta = await file('plain.safetensors', { x: { shape: [1], data: f32(1, () => 0) } }, { 'modelspec.prediction_type': 'v' });
    const named = await file('model_v-pred_final.safetensors', { x: { shape: [1], data: f32(1, () => 0) } });
    const vee = await file('anime_768-v.safetensors', { x: { shape: [1], data: f32(1, () => 0) } });
    const pvc = await file('pvc.safetensors', { x: { shape: [1], data: f32(1, () => 0) } });
    expect(detectPrediction(wide, 'sd2', 4)).toEqual({ prediction: 'v_prediction', reason: 'SD2 norm1.bias std heuristic (ComfyUI)' });
    expect(detectPrediction(wide, 'sd2', 9).prediction).toBe('eps'); // inpainting SD2 models are eps
    expect(detectPrediction(wide, 'sd1', 4).prediction).toBe('eps');
    expect(detectPrediction(narrow, 'sd2', 4).prediction).toBe('eps');
    expect(detectPrediction(wide, 'sd2', 4, 'eps')).toEqual({ prediction: 'eps', reason: 'option' });
    expect(detectPrediction(meta, 'sd1', 4).reason).toBe('metadata modelspec.prediction_type');
    expect(detectPrediction(named, 'sd1', 4).prediction).toBe('v_prediction');
    expect(detectPrediction(vee, 'sd1', 4).prediction).toBe('v_prediction');
    expect(detectPrediction(pvc, 'sd1', 4).prediction).toBe('eps'); // "pvc" is not "v-pred"
    expect(predictionFromSchedulerConfig({ prediction_type: 'v_prediction' })).toBe('v_prediction');
    expect(predictionFromSchedulerConfig({ prediction_type: 'epsilon' })).toBe('eps');
    expect(predictionFromSchedulerConfig(null)).toBeUndefined();
    expect(() => predictionFromSchedulerConfig({ prediction_type: 'sample_x0_magic' }, 'x.json')).toThrow(/x.json: prediction_type "sample_x0_magic" is not supported/);
    for (const r of [wide, narrow, meta, named, vee, pvc]) r.close();
  });
});

describe('LoRA paths', () => {
  it('finds names in folders (with or without extension, case-insensitive), refuses pickles', () => {
    const loras = join(dir, 'loras');
    mkdirSync(join(loras, 'style'), { recursive: true });
    writeFileSync(join(loras, 'InkLines.safetensors'), Buffer.alloc(0));
    writeFileSync(join(loras, 'style', 'grain.safetensors'), Buffer.alloc(0));
    writeFileSync(join(loras, 'old.ckpt'), Buffer.from([0x80, 0x02, 0x7d]));
    expect(resolveLoraPath('InkLines', [loras])).toBe(join(loras, 'InkLines.safetensors'));
    expect(resolveLoraPath('inklines', [loras])).toBe(join(loras, 'InkLines.safetensors'));
    expect(resolveLoraPath('style/grain', [loras])).toBe(join(loras, 'style', 'grain.safetensors'));
    // A tag stays inside the loras folders: no absolute names, no "..", no symlink out, no folder-less lookup.
    const outside = join(dir, 'outside.safetensors');
    writeFileSync(outside, Buffer.alloc(0));
    symlinkSync(outside, join(loras, 'escape.safetensors'));
    expect(() => resolveLoraPath(join(loras, 'InkLines.safetensors'), [loras])).toThrow(UnsafePathError);
    expect(() => resolveLoraPath('../outside', [loras])).toThrow(/"\.\." is not allowed/);
    expect(() => resolveLoraPath('escape', [loras])).toThrow(/symlink points out of the folder/);
    expect(() => resolveLoraPath('InkLines', [])).toThrow(/no loras folder given/);
    expect(() => resolveLoraPath('old.ckpt', [loras])).toThrow(/refuses pickle checkpoints/);
    expect(() => resolveLoraPath('missing', [loras])).toThrow(/LoRA "missing" not found/);
  });
});

describe('textual-inversion embeddings', () => {
  it('reads A1111, diffusers and clip_l layouts and rejects other widths', async () => {
    const edir = join(dir, 'emb');
    mkdirSync(edir, { recursive: true });
    const a = await file('emb/a1111.safetensors', { emb_params: { shape: [3, 4], data: f32(12, (i) => i) } });
    const d = await file('emb/diff.safetensors', { '<tok>': { shape: [4], data: f32(4, (i) => 10 + i) } });
    const wrong = await file('emb/sdxl.safetensors', { clip_g: { shape: [1, 8], data: f32(8, () => 0) } });
    for (const r of [a, d, wrong]) r.close();
    expect(readEmbeddingFile(a.path, 4).count).toBe(3);
    expect(Array.from(readEmbeddingFile(d.path, 4).vectors)).toEqual([10, 11, 12, 13]);
    expect(() => readEmbeddingFile(wrong.path, 4)).toThrow(/no tensor of width 4/);
    const lib = embeddingLibrary([edir], 4);
    expect(lib.count('A1111')).toBe(3);
    expect(lib.count('nothing')).toBeUndefined();
    expect(() => lib.get('nothing')).toThrow(/embedding "nothing" not found/);
  });

  it('appends vectors to the token table and maps (name, vector) to new ids', () => {
    const table = f32(2 * 4, (i) => -i);
    const store = memoryWeights({ 'text_model.embeddings.token_embedding.weight': table }, { 'text_model.embeddings.token_embedding.weight': [2, 4] });
    const e = { name: 'ink', file: 'x', vectors: f32(8, (i) => 100 + i), count: 2 };
    const ext = extendTokenTable(store, [e]);
    expect(ext.vocabSize).toBe(4);
    expect(ext.idOf('ink', 1)).toBe(3);
    const p = ext.store.get('text_model.embeddings.token_embedding.weight')!;
    expect(p.shape).toEqual([4, 4]);
    expect(Array.from(new Float32Array(p.bytes.slice().buffer))).toEqual([...table, ...e.vectors]);
    expect(ext.store.fingerprint()).not.toBe(store.fingerprint());
    expect(() => ext.idOf('other', 0)).toThrow(/not loaded/);
    expect(extendTokenTable(store, []).store).toBe(store);
  });
});

describe('residency', () => {
  it('"one" releases the other components, "all" keeps them', async () => {
    const released: string[] = [];
    const comp = (n: string) => ({ release: async () => void released.push(n) });
    const one = createResidency('one');
    await one.use('text', comp('text'));
    await one.use('unet', comp('unet'));
    await one.use('unet', comp('unet'));
    expect(released).toEqual(['text']);
    await one.use('vae', comp('vae'));
    expect(released).toEqual(['text', 'unet']);
    const all = createResidency('all');
    await all.use('a', comp('a'));
    await all.use('b', comp('b'));
    expect(released).toEqual(['text', 'unet']);
    await all.releaseAll();
    expect(released).toEqual(['text', 'unet', 'a', 'b']);
  });
});
