import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataFolderEnv } from './dataFolder.ts';
import { listModels, resolveModel } from './folders.ts';
import { parseJsonExact } from './jsonExact.ts';
import { BUNDLED_MODEL_NAME, DEFAULT_SDRO_PATH, DEFAULT_VAE_PATH } from '../models/bundledModels.ts';
import { defaultTextToImagePath } from '../models/defaultTextToImage.ts';
import { pyFloatRepr, pyInt, pyJsonDumps, pyReprString } from './python.ts';

describe('dataFolderEnv', () => {
  it('creates ComfyUI\'s layout and searches an A1111 models folder too', () => {
    const root = mkdtempSync(join(tmpdir(), 'inkflow-data-'));
    const a1111 = join(root, 'webui', 'models');
    mkdirSync(join(a1111, 'Stable-diffusion', 'sd15'), { recursive: true });
    writeFileSync(join(a1111, 'Stable-diffusion', 'sd15', 'model.safetensors'), '');
    mkdirSync(join(a1111, 'Lora'), { recursive: true });
    writeFileSync(join(a1111, 'Lora', 'ink.safetensors'), '');
    writeFileSync(join(a1111, 'Lora', 'notes.txt'), '');
    const env = dataFolderEnv(join(root, 'data'), { models: a1111, bundled: false });
    for (const d of ['input', 'output', 'temp', 'models/checkpoints', 'models/loras', 'models/controlnet', 'models/colorize']) expect(existsSync(join(root, 'data', d)), d).toBe(true);
    expect(listModels(env, 'checkpoints')).toEqual(['sd15/model.safetensors']);
    expect(listModels(env, 'loras')).toEqual(['ink.safetensors']);
    expect(resolveModel(env, 'loras', 'ink.safetensors')).toBe(join(a1111, 'Lora', 'ink.safetensors'));
    expect(() => resolveModel(env, 'loras', '../Lora/ink.safetensors')).toThrow(/\.\./);
    expect(() => resolveModel(env, 'loras', 'missing.safetensors')).toThrow(/not found/);
    expect(() => resolveModel(env, 'checkpoints', BUNDLED_MODEL_NAME)).toThrow(/not found/);
  });

  it('offers the repository\'s bundled models after the folder contents, resolved to models/default/* (a file of the same name wins)', () => {
    const root = mkdtempSync(join(tmpdir(), 'inkflow-data-'));
    const env = dataFolderEnv(root);
    writeFileSync(join(root, 'models', 'checkpoints', 'own.safetensors'), '');
    expect(listModels(env, 'checkpoints')).toEqual(['own.safetensors', BUNDLED_MODEL_NAME]);
    expect(resolveModel(env, 'checkpoints', BUNDLED_MODEL_NAME)).toBe(defaultTextToImagePath());
    expect(listModels(env, 'colorize')).toEqual([BUNDLED_MODEL_NAME]);
    expect(resolveModel(env, 'colorize', BUNDLED_MODEL_NAME)).toBe(DEFAULT_SDRO_PATH);
    expect(resolveModel(env, 'vae', BUNDLED_MODEL_NAME)).toBe(DEFAULT_VAE_PATH);
    for (const p of [defaultTextToImagePath(), DEFAULT_SDRO_PATH, DEFAULT_VAE_PATH]) expect(existsSync(p), p).toBe(true);
    expect(listModels(env, 'loras')).toEqual([]);
    // A user's own model of that name is the one listed and loaded.
    mkdirSync(join(root, 'models', 'colorize', BUNDLED_MODEL_NAME));
    writeFileSync(join(root, 'models', 'colorize', BUNDLED_MODEL_NAME, 'model_index.json'), '{}');
    expect(listModels(env, 'colorize')).toEqual([BUNDLED_MODEL_NAME]);
    expect(resolveModel(env, 'colorize', BUNDLED_MODEL_NAME)).toBe(join(root, 'models', 'colorize', BUNDLED_MODEL_NAME));
  });
});

describe('Python spellings', () => {
  it('parses 64-bit integers exactly and leaves the rest to JSON.parse', () => {
    expect(parseJsonExact('{"seed": 18446744073709551615, "s": "18446744073709551615", "x": [1.5, -3, 9007199254740991]}'))
      .toEqual({ seed: 18446744073709551615n, s: '18446744073709551615', x: [1.5, -3, 9007199254740991] });
    expect(() => parseJsonExact('{nope')).toThrow();
  });
  it('writes json.dumps text, float and string reprs, and int() conversions as Python does', () => {
    expect(pyJsonDumps({ a: [1, 'é'], b: { c: null }, d: 18446744073709551615n })).toBe('{"a": [1, "\\u00e9"], "b": {"c": null}, "d": 18446744073709551615}');
    expect([pyFloatRepr(1), pyFloatRepr(0.5), pyFloatRepr(1e-5), pyFloatRepr(1e16), pyFloatRepr(-0)]).toEqual(['1.0', '0.5', '1e-05', '1e+16', '-0.0']);
    expect([pyReprString('a'), pyReprString("it's"), pyReprString('a\\b')]).toEqual(["'a'", '"it\'s"', "'a\\\\b'"]);
    expect([pyInt('12'), pyInt(' 7 '), pyInt(3.9), pyInt(-3.9), pyInt(true), pyInt('1_000')]).toEqual([12, 7, 3, -3, 1, 1000]);
    expect(() => pyInt('abc')).toThrow("invalid literal for int() with base 10: 'abc'");
    expect(() => pyInt(null)).toThrow(/not 'NoneType'/);
  });
});
