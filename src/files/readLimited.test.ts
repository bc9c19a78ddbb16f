import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputTooLargeError, readFileLimited } from './readLimited.ts';

describe('readFileLimited', () => {
  const dir = mkdtempSync(join(tmpdir(), 'inkflow-read-'));
  it('reads a file within the limit', () => {
    writeFileSync(join(dir, 'a'), 'hello');
    expect(readFileLimited(join(dir, 'a'), 5).toString()).toBe('hello');
  });
  it('refuses a regular file over the limit by its size', () => {
    expect(() => readFileLimited(join(dir, 'a'), 4)).toThrow(InputTooLargeError);
  });
  it('refuses an endless device while reading', () => {
    expect(() => readFileLimited('/dev/zero', 3 << 20)).toThrow(InputTooLargeError);
  });
  it('refuses a folder', () => {
    expect(() => readFileLimited(dir)).toThrow(/is a folder/);
  });
});
