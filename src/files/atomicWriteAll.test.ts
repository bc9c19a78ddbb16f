import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutputExistsError } from './atomicWrite.ts';
import { writeFilesAtomic } from './atomicWriteAll.ts';

const bytes = (s: string) => Buffer.from(s);

describe('writeFilesAtomic', () => {
  it('writes all files, or none when one name is taken (the first is taken back)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'inkflow-all-'));
    writeFilesAtomic([{ path: join(dir, 'a.png'), data: bytes('a') }, { path: join(dir, 'a-2.png'), data: bytes('b') }]);
    expect(readdirSync(dir).sort()).toEqual(['a-2.png', 'a.png']);
    writeFileSync(join(dir, 'c-2.png'), 'keep');
    expect(() => writeFilesAtomic([{ path: join(dir, 'c.png'), data: bytes('1') }, { path: join(dir, 'c-2.png'), data: bytes('2') }])).toThrow(OutputExistsError);
    expect(readdirSync(dir).sort()).toEqual(['a-2.png', 'a.png', 'c-2.png']);
    expect(readFileSync(join(dir, 'c-2.png'), 'utf8')).toBe('keep');
  });

  it('a failed temporary write publishes nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'inkflow-all-'));
    writeFileSync(join(dir, 'y.png'), 'old-y');
    // The second target lies under a file: its temporary write fails before anything is published.
    expect(() => writeFilesAtomic([{ path: join(dir, 'x.png'), data: bytes('new') }, { path: join(dir, 'y.png', 'z.png'), data: bytes('new') }])).toThrow(/ENOTDIR/);
    expect(readdirSync(dir).sort()).toEqual(['y.png']);
  });

  it('with overwrite, a failure while publishing puts the replaced files back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'inkflow-all-'));
    writeFileSync(join(dir, 'x.png'), 'old-x');
    mkdirSync(join(dir, 'd.png')); // cannot be replaced by a file
    expect(() => writeFilesAtomic([{ path: join(dir, 'x.png'), data: bytes('new') }, { path: join(dir, 'd.png'), data: bytes('new') }], { overwrite: true })).toThrow();
    expect(readFileSync(join(dir, 'x.png'), 'utf8')).toBe('old-x');
    expect(readdirSync(dir).sort()).toEqual(['d.png', 'x.png']);
    writeFilesAtomic([{ path: join(dir, 'x.png'), data: bytes('new') }], { overwrite: true });
    expect(readFileSync(join(dir, 'x.png'), 'utf8')).toBe('new');
    expect(readdirSync(dir).sort()).toEqual(['d.png', 'x.png']);
  });
});
