// ConditioningSetArea in KSampler on the tiny checkpoint: a full-size area samples as no area, an area prompt
// changes (mostly) its own region, strength 0 removes it, ControlNets and T2I-Adapters run on the area's crop.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createImage } from '../../imaging/image.ts';
import { loadCheckpoint, type Checkpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import { openControlNet } from '../../models/checkpoint/controlNetRunner.ts';
import type { ControlNetUse } from './controlNet.ts';
import { encodePrompt } from './conditioning.ts';
import { combineConditioning, ksample, type Conditioning, type KSampleSettings } from './ksample.ts';
import { emptyLatent } from './latent.ts';
import { assertTinyModels, TINY_CONTROLNET, TINY_T2I_ADAPTER, TOKENIZER_DIR, writeTinyDiffusersCheckpoint } from './tinyCheckpoint.ts';

const work = mkdtempSync(join(tmpdir(), 'inkflow-area-'));
let ckpt: Checkpoint;
let cat: Conditioning;
let house: Conditioning;
let blurry: Conditioning;
const S = 24; // latent side (the tiny VAE halves: a 48×48 image)
const settings: KSampleSettings = { seed: 5, steps: 3, cfg: 6, sampler: 'euler', scheduler: 'normal', denoise: 1 };

beforeAll(async () => {
  assertTinyModels(TINY_T2I_ADAPTER);
  ckpt = loadCheckpoint(await writeTinyDiffusersCheckpoint(join(work, 'tiny')), { tokenizerDir: TOKENIZER_DIR });
  const enc = async (t: string): Promise<Conditioning> => ({ text: await encodePrompt(ckpt, t), controls: [], adapters: [] });
  [cat, house, blurry] = await Promise.all([enc('a cat on a mat'), enc('a red house by the sea at night'), enc('blurry')]);
});
afterAll(async () => {
  await ckpt?.release();
  rmSync(work, { recursive: true, force: true });
});

const sample = async (positive: Conditioning, negative = blurry) => (await ksample(ckpt, positive, negative, emptyLatent(S * 2, S * 2, 1, 4, 2), settings)).samples;
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

/** Mean |a − b| over the latent elements (all channels) of rows y0..y1, columns x0..x1. */
function regionDiff(a: Float32Array, b: Float32Array, y0: number, y1: number, x0: number, x1: number): number {
  let s = 0;
  let k = 0;
  for (let c = 0; c < 4; c++) for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++, k++) s += Math.abs(a[c * S * S + y * S + x] - b[c * S * S + y * S + x]);
  return s / k;
}

describe('conditioning areas in KSampler (tiny checkpoint)', () => {
  it('a full-size area (and its automatic opposite) samples as no area', async () => {
    const plain = await sample(cat);
    const full = await sample({ ...cat, area: { height: S, width: S, y: 0, x: 0 }, strength: 1 });
    expect(maxDiff(full, plain)).toBeLessThan(1e-4);
  });

  it('an area prompt changes its region, barely the far side of the latent; strength 0 removes it', async () => {
    const plain = await sample(cat);
    const area = { height: 12, width: 12, y: 12, x: 12 }; // bottom-right quarter
    const withHouse = await sample(combineConditioning(cat, { ...house, area, strength: 1 }));
    const inside = regionDiff(withHouse, plain, 14, 24, 14, 24); // past the feather (rr = 3)
    const farAway = regionDiff(withHouse, plain, 0, 8, 0, 8);
    expect(inside).toBeGreaterThan(1e-3);
    expect(inside).toBeGreaterThan(4 * farAway);
    const off = await sample(combineConditioning(cat, { ...house, area, strength: 0 }));
    expect(maxDiff(off, plain)).toBeLessThan(1e-4);
  });

  it('refuses an area outside the latent', async () => {
    await expect(sample({ ...cat, area: { height: 8, width: 8, y: S, x: 0 } })).rejects.toThrow(/outside the 24×24 latent/);
  });

  it('T2I-Adapters run on an area\'s crop too; a full-size area with an adapter = no area', async () => {
    const image = createImage(64, 64, 3, 255);
    for (let i = 0; i < image.data.length; i += 3) if ((i / 3) % 7 === 0) image.data.fill(0, i, i + 3);
    const adapters = [{ path: TINY_T2I_ADAPTER, image, scale: 1 }];
    const withAdapter = (c: Conditioning): Conditioning => ({ ...c, adapters });
    const plain = await sample(withAdapter(cat), withAdapter(blurry));
    const full = await sample(withAdapter({ ...cat, area: { height: S, width: S, y: 0, x: 0 } }), withAdapter(blurry));
    expect(maxDiff(full, plain)).toBeLessThan(1e-4);
    const area = { height: 12, width: 12, y: 12, x: 12 };
    const houseOnly = await sample(combineConditioning(cat, { ...house, area }));
    const houseAdapted = await sample(combineConditioning(cat, withAdapter({ ...house, area })));
    expect(regionDiff(houseAdapted, houseOnly, 14, 24, 14, 24)).toBeGreaterThan(1e-3);
  });

  it('ControlNets run on an area\'s crop with the hint fitted to it; a full-size area with a ControlNet = no area', async () => {
    const controlNet = openControlNet(TINY_CONTROLNET);
    try {
      const hint = createImage(S * 2, S * 2, 3);
      for (let i = 0; i < hint.data.length; i += 3) if ((i / 3) % 5 === 0) hint.data.fill(255, i, i + 3);
      const use: ControlNetUse = { controlNet, hint, strength: 1 };
      const withCn = (c: Conditioning): Conditioning => ({ ...c, controls: [use] });
      const plain = await sample(withCn(cat), withCn(blurry));
      const full = await sample(withCn({ ...cat, area: { height: S, width: S, y: 0, x: 0 } }), withCn(blurry));
      expect(maxDiff(full, plain)).toBeLessThan(1e-4);
      const area = { height: 12, width: 12, y: 12, x: 12 };
      const houseOnly = await sample(combineConditioning(cat, { ...house, area }));
      const houseControlled = await sample(combineConditioning(cat, withCn({ ...house, area })));
      expect(regionDiff(houseControlled, houseOnly, 14, 24, 14, 24)).toBeGreaterThan(1e-3);
    } finally {
      await controlNet.release();
    }
  });
});
