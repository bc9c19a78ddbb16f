import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertWritableDir, OutputExistsError, OutputFolderError, writeFileAtomic } from './atomicWrite.ts';

describe('writeFileAtomic', () => {
  it('writes, refuses to replace without overwrite, replaces with it, and leaves no temporary file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'inkflow-atomic-'));
    const p = join(dir, 'out.png');
    writeFileAtomic(p, Buffer.from('one'));
    expect(readFileSync(p, 'utf8')).toBe('one');
    expect(() => writeFileAtomic(p, Buffer.from('two'))).toThrow(OutputExistsError);
    expect(readFileSync(p, 'utf8')).toBe('one');
    writeFileAtomic(p, Buffer.from('three'), { overwrite: true });
    expect(readFileSync(p, 'utf8')).toBe('three');
    expect(readdirSync(dir)).toEqual(['out.png']);
  });

  it('fails on a missing parent without creating anything', () => {
    const dir = mkdtempSync(join(tmpdir(), 'inkflow-atomic-'));
    expect(() => writeFileAtomic(join(dir, 'no', 'out.png'), Buffer.from('x'))).toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('assertWritableDir', () => {
  it('creates a missing folder and accepts it', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'inkflow-w-')), 'a', 'b');
    assertWritableDir(dir);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a folder that is a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'inkflow-w-'));
    writeFileSync(join(dir, 'f'), 'x');
    expect(() => assertWritableDir(join(dir, 'f'))).toThrow(OutputFolderError);
  });

});
