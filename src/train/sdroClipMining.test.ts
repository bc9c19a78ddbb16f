// `inkflow train sdro --mining-model`: pairs mined by CLIP-vision similarity, end to end. The CLIP image
// encoder is the golden SDRO folder's tiny random one (transformers' dummy CLIPVisionModel): its
// similarities mean nothing about who is drawn, but the threshold logic, the preprocessing and the hand-off
// to training are the same as with a real CLIP.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { goldenRoot } from '../../test/golden/io.ts';
import { encodePng, type Image } from '../imaging/image.ts';
import { loadClipVisionEncoder } from '../models/clip/visionEncoder.ts';
import { preprocessClipImage, readClipImageProcessorConfig } from '../models/clip/imageProcessor.ts';
import { syntheticSdroPictures } from './sdroExamples.ts';
import { cosine, embeddingDescriptor } from './sdroPairs.ts';
import { trainSdro } from './sdroFineTune.ts';

const model = join(goldenRoot, 'sdro_pipeline');
const clip = join(model, 'image_encoder');
const tmp = mkdtempSync(join(tmpdir(), 'inkflow-sdro-clip-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Pooled CLIP embeddings of the pictures, computed here straight through the encoder (not through the miner). */
async function clipEmbeddings(images: readonly Image[]): Promise<Float32Array[]> {
  const processor = readClipImageProcessorConfig(join(model, 'clip_image_processor', 'preprocessor_config.json'));
  const encoder = await loadClipVisionEncoder(clip, { cacheDir: false, threads: 1 });
  try {
    const out: Float32Array[] = [];
    for (const img of images) out.push(embeddingDescriptor((await encoder.encode(preprocessClipImage(img, processor))).pooler_output.data));
    return out;
  } finally {
    await encoder.release();
  }
}

describe('SDRO pair mining with a CLIP vision model', () => {
  it('keeps the pairs at or above the threshold, drops those below, and trains on the kept ones', async () => {
    const data = join(tmp, 'pictures');
    mkdirSync(data);
    const names: string[] = [];
    const images: Image[] = [];
    for (const seed of [41, 42, 43]) {
      const p = syntheticSdroPictures(seed, 64);
      for (const [view, img] of [['a', p.reference], ['b', p.target]] as const) {
        names.push(`c${seed}-${view}.png`);
        images.push(img);
        writeFileSync(join(data, names[names.length - 1]), await encodePng(img));
      }
    }
    const e = await clipEmbeddings(images);
    const sims: { i: number; j: number; s: number }[] = [];
    for (let i = 0; i < e.length; i++) for (let j = i + 1; j < e.length; j++) sims.push({ i, j, s: cosine(e[i], e[j]) });
    sims.sort((a, b) => b.s - a.s);
    // The random encoder's embeddings are all alike (cosines 0.9997…0.99997), so the threshold goes into the
    // widest gap between neighbouring similarities that leaves at least 3 of the 15 pairs above it and 4 below.
    let above = 3;
    for (let k = 4; k <= 11; k++) if (sims[k - 1].s - sims[k].s > sims[above - 1].s - sims[above].s) above = k;
    expect(sims[above - 1].s - sims[above].s).toBeGreaterThan(1e-6); // far wider than float32 rounding
    const threshold = (sims[above - 1].s + sims[above].s) / 2;

    const opts = { model, data, miningModel: clip, threshold, steps: 2, checkpointEvery: 1, lr: 1e-3, seed: 3, cacheDir: false as const, threads: 1 };
    const res = await trainSdro({ ...opts, output: join(tmp, 'tuned'), runDir: join(tmp, 'run') });
    expect(res.descriptor).toBe('clip');
    expect(res.images).toBe(6);
    expect(res.minedPairs).toBe(2 * above); // the pairs above the threshold, each both ways
    expect(res.droppedPairs).toBe(0); // every synthetic picture has lines
    const kept = new Map(res.pairs.map((p) => [`${p.reference}>${p.target}`, p.similarity]));
    for (const [k, { i, j, s }] of sims.entries()) {
      for (const key of [`${names[i]}>${names[j]}`, `${names[j]}>${names[i]}`]) {
        // the miner's similarities are CLIP's (the built-in descriptor would give others)
        if (k < above) expect(kept.get(key), key).toBeCloseTo(s, 6);
        else expect(kept.has(key), key).toBe(false);
      }
    }
    // The kept pairs fed training: two steps with finite losses.
    expect(res.losses.map((l) => l.step)).toEqual([1, 2]);
    for (const l of res.losses) expect(Number.isFinite(l.loss) && l.loss > 0).toBe(true);

    // Above every pair's similarity nothing is mined, and training refuses to start.
    await expect(trainSdro({ ...opts, threshold: Math.min(1, sims[0].s + 1e-3), output: join(tmp, 'none'), runDir: join(tmp, 'run-none') })).rejects.toThrow(/no training pairs: 0 pair\(s\) reached similarity/);
  });
});
