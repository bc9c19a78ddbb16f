// `--cache DIR` is taken out of any command's arguments (so each command's strict parser never sees it).
import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { takeCacheOption } from './cacheOption.ts';

describe('--cache', () => {
  it('is removed from the arguments wherever it stands, as --cache DIR or --cache=DIR, made absolute', () => {
    expect(takeCacheOption(['serve', '--port', '0', '--cache', 'c1'])).toEqual({ argv: ['serve', '--port', '0'], cacheDir: resolve('c1') });
    expect(takeCacheOption(['generate', '--cache=/tmp/c2', '--seed', '1'])).toEqual({ argv: ['generate', '--seed', '1'], cacheDir: '/tmp/c2' });
    expect(takeCacheOption(['worker', '--redis', 'redis://x'])).toEqual({ argv: ['worker', '--redis', 'redis://x'], cacheDir: undefined });
  });

  it('without a folder is a usage error', () => {
    expect(() => takeCacheOption(['serve', '--cache'])).toThrow(/--cache needs a folder/);
    expect(() => takeCacheOption(['serve', '--cache', '--port', '1'])).toThrow(/--cache needs a folder/);
    expect(() => takeCacheOption(['serve', '--cache='])).toThrow(/--cache needs a folder/);
  });
});
