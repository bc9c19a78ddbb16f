// A model folder as a careless or hostile source may hand it over: config files that are endless
// devices, parts that do not belong together. Each fails at once with the file named.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import { assertTinyModels, writeTinyDiffusersCheckpoint } from './tinyCheckpoint.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

assertTinyModels();
describe('hostile model folders', () => {
  let clean: string;
  beforeAll(async () => {
    clean = await writeTinyDiffusersCheckpoint(join(dir, 'clean'));
  });
  const variant = (name: string, edit: (d: string) => void): string => {
    const d = join(dir, name);
    cpSync(clean, d, { recursive: true });
    edit(d);
    return d;
  };

  it.each([['unet/config.json'], ['scheduler/scheduler_config.json'], ['text_encoder/config.json'], ['vae/config.json'], ['tokenizer/vocab.json']])('%s → /dev/zero fails at once with a byte limit', (file) => {
    const d = variant(`zero-${file.replace(/\W/g, '_')}`, (x) => {
      rmSync(join(x, file));
      symlinkSync('/dev/zero', join(x, file));
    });
    expect(() => loadCheckpoint(d, { cacheDir: false })).toThrow(/larger than the input limit/);
  });

  it('a UNet config whose cross_attention_dim does not fit the text encoder is named at load', () => {
    const d = variant('cross', (x) => {
      const p = join(x, 'unet', 'config.json');
      writeFileSync(p, JSON.stringify({ ...JSON.parse(readFileSync(p, 'utf8')), cross_attention_dim: 768 }));
    });
    expect(() => loadCheckpoint(d, { cacheDir: false })).toThrow(/cross_attention_dim is 768 but the text encoder gives 32-wide states/);
  });
});
