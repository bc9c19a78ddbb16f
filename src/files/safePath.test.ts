import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveInside, UnsafePathError } from './safePath.ts';

describe('resolveInside', () => {
  const root = mkdtempSync(join(tmpdir(), 'inkflow-safe-'));
  const outside = mkdtempSync(join(tmpdir(), 'inkflow-outside-'));
  mkdirSync(join(root, 'sub'));
  writeFileSync(join(root, 'sub', 'a.png'), 'x');
  writeFileSync(join(outside, 'secret.txt'), 'x');
  symlinkSync(outside, join(root, 'escape'));
  symlinkSync(join(outside, 'secret.txt'), join(root, 'leak.txt'));

  it('resolves names and subfolders inside the folder, existing or not', () => {
    expect(resolveInside(root, 'sub/a.png')).toBe(join(root, 'sub', 'a.png'));
    expect(resolveInside(root, 'new/b.png')).toBe(join(root, 'new', 'b.png'));
    expect(resolveInside(root, './sub//a.png')).toBe(join(root, 'sub', 'a.png'));
  });

  it.each([
    ['../secret.txt', '".." is not allowed'],
    ['sub/../../x', '".." is not allowed'],
    ['..\\x', '".." is not allowed'],
    ['/etc/passwd', 'absolute'],
    ['C:/Windows/win.ini', 'absolute'],
    ['\\\\server\\share', 'absolute'],
    ['a\0b', 'NUL'],
    ['', 'empty'],
    ['escape/secret.txt', 'symlink'],
    ['leak.txt', 'symlink'],
    ['escape/new.txt', 'symlink'],
  ])('refuses %j (%s)', (name, why) => {
    expect(() => resolveInside(root, name)).toThrow(UnsafePathError);
    expect(() => resolveInside(root, name)).toThrow(why);
  });
});
