// generate()'s opt-in fast modes on the tiny random-weight checkpoint: an int8 checkpoint (per-model
// precision) and step caching run the same txt2img pipeline (CFG batch 2, one- and two-call samplers) to
// images close to fp32, and switching them off gives exactly the fp32 pixels. PSNRs are printed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { psnr } from '../../imaging/metrics.ts';
import { loadCheckpoint, type Checkpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import { generate, type GenerateRequest } from './generate.ts';
import { assertTinyModels, writeTinyDiffusersCheckpoint } from './tinyCheckpoint.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-generate-fast-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base: GenerateRequest = { prompt: 'a cat on a mat', negative: 'blurry', seed: 42, steps: 6, sampler: 'euler', scheduler: 'normal', width: 32, height: 32, cfg: 7 };
const same = (a: { data: Uint8Array }, b: { data: Uint8Array }) => Buffer.from(a.data).equals(Buffer.from(b.data));

assertTinyModels();
describe('generate fast modes (tiny models)', () => {
  let path: string;
  let ckpt: Checkpoint;
  let plain: Awaited<ReturnType<typeof generate>>;

  beforeAll(async () => {
    path = await writeTinyDiffusersCheckpoint(join(dir, 'tiny'));
    ckpt = loadCheckpoint(path, { cacheDir: false });
    plain = await generate(ckpt, base);
  });
  afterAll(async () => {
    await ckpt?.release();
  });

  it("an int8 checkpoint runs txt2img close to fp32; precision 'fp32' is the exact fp32 path", async () => {
    const q = loadCheckpoint(path, { cacheDir: false, precision: 'int8' });
    const off = loadCheckpoint(path, { cacheDir: false, precision: 'fp32' });
    try {
      const a = await generate(q, base);
      expect(same(a.images[0], plain.images[0])).toBe(false);
      const db = psnr(a.images[0], plain.images[0]);
      console.log(`tiny txt2img int8 vs fp32: PSNR ${db.toFixed(1)} dB`);
      expect(db).toBeGreaterThan(25);
      expect(same((await generate(off, base)).images[0], plain.images[0])).toBe(true);
    } finally {
      await q.release();
      await off.release();
    }
  });

  it('step caching: shallow calls between full steps (also with a two-call sampler); cacheSteps 1 is exact', async () => {
    const c = await generate(ckpt, { ...base, cacheSteps: 2 });
    expect(c.timings.unetCalls).toBe(6);
    expect(c.timings.shallowUnetCalls).toBe(1); // full at steps 0–2 (the composition steps), 4 and the last (5)
    const db = psnr(c.images[0], plain.images[0]);
    console.log(`tiny txt2img cacheSteps 2 vs uncached: PSNR ${db.toFixed(1)} dB`);
    expect(same(c.images[0], plain.images[0])).toBe(false);
    expect(db).toBeGreaterThan(15);
    expect(same((await generate(ckpt, { ...base, cacheSteps: 1 })).images[0], plain.images[0])).toBe(true);
    const heun = await generate(ckpt, { ...base, sampler: 'heun', cacheSteps: 3 });
    expect(heun.timings.shallowUnetCalls).toBeGreaterThan(0);
    expect(heun.images[0].width).toBe(32);
  });

  it('refuses a cache interval beyond the maximum', async () => {
    await expect(generate(ckpt, { ...base, cacheSteps: 11 })).rejects.toThrow(/cache interval/);
  });
});
