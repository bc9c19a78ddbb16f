// A generation's memory is estimated before anything runs: 16384² is refused at once with the estimate
// and the limit; the limit is configurable; ordinary sizes pass.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint, type Checkpoint } from '../models/checkpoint/loadCheckpoint.ts';
import { generate } from './generate/generate.ts';
import { assertTinyModels, writeTinyDiffusersCheckpoint } from './generate/tinyCheckpoint.ts';
import { assertGenerationFits, addedModels, estimateGenerationMemory, MemoryLimitError } from './memoryEstimate.ts';
import { openControlNet } from '../models/checkpoint/controlNetRunner.ts';
import { createImage } from '../imaging/image.ts';
import { goldenRoot } from '../../test/golden/io.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-mem-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  delete process.env.INKFLOW_MAX_MEMORY_BYTES;
});

assertTinyModels();
describe('generation memory estimate (tiny models)', () => {
  let ckpt: Checkpoint;
  beforeAll(async () => {
    ckpt = loadCheckpoint(await writeTinyDiffusersCheckpoint(join(dir, 'tiny')), { cacheDir: false });
  });
  afterAll(() => ckpt?.release());

  it('grows with size and batch; weights come from the file headers', () => {
    const a = estimateGenerationMemory(ckpt, { width: 64, height: 64, batch: 1, cfg: 7 });
    const b = estimateGenerationMemory(ckpt, { width: 128, height: 128, batch: 1, cfg: 7 });
    const c = estimateGenerationMemory(ckpt, { width: 64, height: 64, batch: 4, cfg: 7 });
    expect(a.parts.weights).toBeGreaterThan(0);
    expect(b.bytes).toBeGreaterThan(a.bytes);
    expect(c.parts.unetAttention).toBe(4 * a.parts.unetAttention);
    expect(estimateGenerationMemory(ckpt, { width: 64, height: 64, batch: 1, cfg: 1 }).parts.unetAttention).toBe(a.parts.unetAttention / 2);
  });

  it('16384×16384 is refused before sampling, with the estimate and the limit', async () => {
    const steps: string[] = [];
    const e = await generate(ckpt, { prompt: 'x', seed: 1, steps: 1, width: 16384, height: 16384 }, { onProgress: (p) => steps.push(p.stage) }).catch((x: Error) => x);
    expect(e).toBeInstanceOf(MemoryLimitError);
    expect((e as Error).message).toMatch(/^a 16384×16384 generation of 1 image needs about \d+ GB of memory \(weights .*unetAttention \d+ GB.*\), over the [\d.]+ GB available/);
    expect(steps).toEqual([]);
  });

  it('the limit is configurable (INKFLOW_MAX_MEMORY_BYTES) and ordinary sizes pass', async () => {
    const est = estimateGenerationMemory(ckpt, { width: 16, height: 16, batch: 1, cfg: 7 });
    expect(() => assertGenerationFits(ckpt, { width: 16, height: 16, batch: 1, cfg: 7 })).not.toThrow();
    process.env.INKFLOW_MAX_MEMORY_BYTES = String(est.bytes - 1);
    await expect(generate(ckpt, { prompt: 'x', seed: 1, steps: 1, width: 16, height: 16 })).rejects.toThrow(MemoryLimitError);
    process.env.INKFLOW_MAX_MEMORY_BYTES = String(est.bytes);
    expect((await generate(ckpt, { prompt: 'x', seed: 1, steps: 1, width: 16, height: 16 })).images).toHaveLength(1);
  });

  it('a ControlNet counts: its weights and residuals join the estimate and the refusal names them', async () => {
    const cn = openControlNet(join(goldenRoot, 'controlnet/cn_c16_16_32_32'), { cacheDir: false });
    try {
      const size = { width: 64, height: 64, batch: 1, cfg: 7 };
      const alone = estimateGenerationMemory(ckpt, size);
      const withCn = estimateGenerationMemory(ckpt, size, addedModels({ controls: [{ controlNet: cn, hint: createImage(64, 64, 3) }] }));
      expect(withCn.parts.controlNets).toBe(cn.weightBytes);
      expect(withCn.parts.controlNetResiduals).toBeGreaterThan(0);
      expect(withCn.bytes - alone.bytes).toBe(cn.weightBytes + withCn.parts.controlNetResiduals);
      expect(alone.parts.controlNets).toBeUndefined();
      const e = (() => {
        try {
          assertGenerationFits(ckpt, size, alone.bytes, { controls: [{ controlNet: cn, hint: createImage(64, 64, 3) }] });
        } catch (x) {
          return x as Error;
        }
      })();
      expect(e).toBeInstanceOf(MemoryLimitError);
      expect(e!.message).toMatch(/controlNets \d+ MB, controlNetResiduals \d+ MB\), over the/);
    } finally {
      await cn.release();
    }
  });
});
