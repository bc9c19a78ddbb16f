// `inkflow generate --precision int8 --cache-steps N` on the tiny checkpoint: runs through the workflow
// (int8 checkpoint, KSampler step caching), records the modes in the PNG, prints the measured error, and
// leaves the default run's pixels untouched.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeImage, readPngText } from '../../imaging/image.ts';
import { psnr } from '../../imaging/metrics.ts';
import { assertTinyModels, writeTinyDiffusersCheckpoint } from '../../pipelines/generate/tinyCheckpoint.ts';
import { generateCommand } from './generate.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-cli-gen-fast-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

assertTinyModels();
describe('inkflow generate fast modes (tiny checkpoint)', () => {
  let model: string;
  const prev = process.env.INKFLOW_CACHE;
  beforeAll(async () => {
    process.env.INKFLOW_CACHE = join(dir, 'cache');
    model = await writeTinyDiffusersCheckpoint(join(dir, 'tiny'));
  });
  afterAll(() => {
    if (prev === undefined) delete process.env.INKFLOW_CACHE;
    else process.env.INKFLOW_CACHE = prev;
  });

  it('int8 + step caching: recorded, reported, close to the exact run', async () => {
    const args = ['--model', model, '--prompt', 'a cat on a mat', '--steps', '6', '--sampler', 'euler', '--scheduler', 'normal', '--seed', '9', '--width', '32', '--height', '32'];
    expect(await generateCommand.run([...args, '-o', join(dir, 'exact.png')])).toBe(0);
    const errors: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void errors.push(a.join(' ')));
    let code: number;
    try {
      code = await generateCommand.run([...args, '--precision', 'int8', '--cache-steps', '2', '-o', join(dir, 'fast.png')]);
    } finally {
      spy.mockRestore();
    }
    expect(code).toBe(0);
    expect(errors.join('\n')).toMatch(/lossy mode: int8 measured to add/);
    expect(errors.join('\n')).toMatch(/lossy mode: --cache-steps 2/);
    const rec = JSON.parse(readPngText(readFileSync(join(dir, 'fast.png'))).inkflow);
    expect(rec).toMatchObject({ kind: 'generate', precision: 'int8', cacheSteps: 2 });
    expect(JSON.parse(readPngText(readFileSync(join(dir, 'exact.png'))).inkflow).precision).toBeUndefined();
    const a = await decodeImage(readFileSync(join(dir, 'exact.png')), 3);
    const b = await decodeImage(readFileSync(join(dir, 'fast.png')), 3);
    const db = psnr(a, b);
    expect(db).toBeGreaterThan(15);
    expect(db).toBeLessThan(80);
  });

  it('bad values are usage errors', async () => {
    const args = ['--model', model, '--prompt', 'x', '-o', join(dir, 'bad.png')];
    await expect(generateCommand.run([...args, '--precision', 'fp8'])).rejects.toThrow(/--precision must be one of fp32, int8/);
    await expect(generateCommand.run([...args, '--cache-steps', '0'])).rejects.toThrow(/--cache-steps must be in \[1, 10\]/);
  });
});
