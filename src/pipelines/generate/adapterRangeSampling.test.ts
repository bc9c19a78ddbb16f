// T2I-Adapters with ControlNetApplyAdvanced's step range in KSampler (tiny checkpoint + tiny adapter): a range
// covering every step samples as the adapter without a range, an empty range as no adapter, a half range
// in between.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createImage, type Image } from '../../imaging/image.ts';
import { loadCheckpoint, type Checkpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import { encodePrompt } from './conditioning.ts';
import { ksample, type Conditioning, type KSampleSettings } from './ksample.ts';
import { emptyLatent } from './latent.ts';
import type { RangedAdapterUse } from './adapterRanges.ts';
import { assertTinyModels, TINY_T2I_ADAPTER, TOKENIZER_DIR, writeTinyDiffusersCheckpoint } from './tinyCheckpoint.ts';

const work = mkdtempSync(join(tmpdir(), 'inkflow-adapter-range-'));
let ckpt: Checkpoint;
let pos: Conditioning;
let neg: Conditioning;
const settings: KSampleSettings = { seed: 8, steps: 4, cfg: 5, sampler: 'euler', scheduler: 'normal', denoise: 1 };

function sketch(w: number, h: number): Image {
  const img = createImage(w, h, 3, 255);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if ((x + 2 * y) % 7 === 0 || x === y) img.data.fill(0, (y * w + x) * 3, (y * w + x) * 3 + 3);
  return img;
}

beforeAll(async () => {
  assertTinyModels(TINY_T2I_ADAPTER);
  ckpt = loadCheckpoint(await writeTinyDiffusersCheckpoint(join(work, 'tiny')), { tokenizerDir: TOKENIZER_DIR, cacheDir: false });
  pos = { text: await encodePrompt(ckpt, 'a cat on a mat'), controls: [], adapters: [] };
  neg = { text: await encodePrompt(ckpt, 'blurry'), controls: [], adapters: [] };
});
afterAll(async () => {
  await ckpt?.release();
  rmSync(work, { recursive: true, force: true });
});

const sample = async (adapters: RangedAdapterUse[]) => (await ksample(ckpt, { ...pos, adapters }, { ...neg, adapters }, emptyLatent(16, 16, 1, 4, 2), settings)).samples;
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('T2I-Adapter step ranges in KSampler', () => {
  it('a range over every step = the adapter; an empty range = no adapter; half the steps lands in between', async () => {
    const use = { path: TINY_T2I_ADAPTER, image: sketch(64, 64), scale: 1 };
    const none = await sample([]);
    const always = await sample([use]);
    expect(maxDiff(always, none)).toBeGreaterThan(1e-2);
    const fullRange = await sample([{ ...use, startPercent: 0, endPercent: 1 }]); // through the per-step switch
    expect(maxDiff(fullRange, always)).toBeLessThan(1e-5);
    const empty = await sample([{ ...use, startPercent: 1, endPercent: 1 }]); // σ(1) = 0: no sampled step
    // Zero features through the UNet compiled with adapter inputs vs the UNet without them: float32 noise only
    // (≈ 2e-6 of the latent's magnitude; the adapter itself moves it by a third of it).
    const scale = none.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(maxDiff(empty, none)).toBeLessThan(1e-5 * scale);
    const firstHalf = await sample([{ ...use, startPercent: 0, endPercent: 0.5 }]);
    expect(maxDiff(firstHalf, none)).toBeGreaterThan(1e-3);
    expect(maxDiff(firstHalf, always)).toBeGreaterThan(1e-3);
  });
});
