// `inkflow colorize --precision int8 --cache-steps N` as users run it (a real child process on the golden
// SDRO folder): the lossy modes run, say what error they were measured to add, are recorded in the PNG,
// and bad values are usage errors.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeImage, readPngText } from '../../src/imaging/image.ts';
import { psnr } from '../../src/imaging/metrics.ts';
import { goldenRoot } from '../golden/io.ts';
import { inkflowRunner } from './runInkflow.ts';

const out = mkdtempSync(join(tmpdir(), 'inkflow-cli-fast-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const inkflow = inkflowRunner(join(out, 'cache'));

describe('inkflow colorize fast modes', () => {
  const g = join(goldenRoot, 'sdro_pipeline');
  const args = ['colorize', '--model', g, '--reference', join(g, 'reference.png'), '--lineart', join(g, 'blueprint.png'), '--steps', '6', '--seed', '7'];

  it('int8 with step caching runs, prints the measured error and records both modes; the default stays exact', async () => {
    const exact = await inkflow(...args, '-o', join(out, 'exact.png'));
    const fast = await inkflow(...args, '--precision', 'int8', '--cache-steps', '2', '-o', join(out, 'fast.png'));
    expect(exact.code, exact.stderr).toBe(0);
    expect(fast.code, fast.stderr).toBe(0);
    expect(exact.stderr).not.toMatch(/lossy mode/);
    expect(fast.stderr).toMatch(/lossy mode: int8 measured to add/);
    expect(fast.stderr).toMatch(/lossy mode: --cache-steps 2/);
    const meta = (f: string) => JSON.parse(readPngText(readFileSync(join(out, f))).inkflow);
    expect(meta('fast.png')).toMatchObject({ method: 'sdro', precision: 'int8', cacheSteps: 2 });
    expect(meta('exact.png').precision).toBeUndefined();
    const a = await decodeImage(readFileSync(join(out, 'exact.png')));
    const b = await decodeImage(readFileSync(join(out, 'fast.png')));
    expect([b.width, b.height]).toEqual([a.width, a.height]);
    expect(psnr(a, b)).toBeGreaterThan(15);
    expect(psnr(a, b)).toBeLessThan(80); // really a different computation
  });

  it('rejects bad values and modes that do not apply', async () => {
    const bad = await inkflow(...args, '--precision', 'int4', '-o', join(out, 'x.png'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--precision must be one of fp32, int8/);
    const zero = await inkflow(...args, '--cache-steps', '0', '-o', join(out, 'x.png'));
    expect(zero.code).toBe(2);
    const flat = await inkflow('colorize', '--flat', '--reference', 'examples/character-sheet.png', '--lineart', 'examples/lineart.png', '--precision', 'int8', '-o', join(out, 'y.png'));
    expect(flat.code).toBe(2);
    expect(flat.stderr).toMatch(/apply to SDRO model folders only/);
  });
});
