// SDRO training (train/sdro*.ts) against the inference path: its blueprints are bit-exact with what
// colorize feeds the UNet, the joint objective learns, a stopped run resumes with the same loss curve,
// and the fine-tuned folder loads through loadSdroPipeline. Model: the tiny golden SDRO folder.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goldenRoot } from '../../../test/golden/io.ts';
import { createImage, encodePng } from '../../imaging/image.ts';
import { loadVae, type VaeModel } from '../../models/vae/loadVae.ts';
import { openSafetensors } from '../../weights/safetensors.ts';
import { blueprintChw, sdroExample, syntheticSdroPictures } from '../../train/sdroExamples.ts';
import { readSdroArchitecture, readSdroParams } from '../../train/sdroModelFiles.ts';
import { sdroTrainingTask } from '../../train/sdroTraining.ts';
import { trainSdro } from '../../train/sdroFineTune.ts';
import { checkpointDirName } from '../../train/checkpoint.ts';
import { createOptimizerState, optimizerStep } from '../../train/optimizer.ts';
import { createTrainRng } from '../../train/trainRng.ts';
import { blueprintToTensor } from './blueprintTensor.ts';
import { prepareBlueprint } from './blueprint.ts';
import { loadSdroPipeline } from './sdro.ts';

const model = join(goldenRoot, 'sdro_pipeline');
const tmp = mkdtempSync(join(tmpdir(), 'inkflow-sdro-train-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('SDRO training data', () => {
  it('makes blueprints bit-exactly as colorize does (line art for even seeds, the threshold recipe for odd)', async () => {
    for (const seed of [4, 7]) {
      const p = syntheticSdroPictures(seed, 64);
      const inference = seed % 2 === 0
        ? await prepareBlueprint(p.lineArt, { source: 'lineart' })
        : await prepareBlueprint(p.target, { source: 'colour' });
      const want = blueprintToTensor(inference.blueprint, 8);
      expect(want.shape).toEqual([1, 3, 64, 64]);
      expect(Buffer.compare(Buffer.from(blueprintChw(p.blueprint).buffer), Buffer.from(want.data.buffer))).toBe(0);
    }
  });
});

describe('SDRO training on the tiny golden SDRO model', () => {
  let vae: VaeModel;
  beforeAll(async () => {
    vae = await loadVae(join(model, 'vae'), { cacheDir: false });
  });
  afterAll(async () => {
    await vae?.release();
  });

  it('the joint objective (UNet, blueprint embedding, image encoder) lowers the loss on a fixed batch', async () => {
    const arch = readSdroArchitecture(model);
    const examples = [await sdroExample(syntheticSdroPictures(2, 64), arch, vae), await sdroExample(syntheticSdroPictures(3, 64), arch, vae)];
    const task = await sdroTrainingTask({ arch, shapes: { batch: 2, height: 8, width: 8 }, examples, initialParams: (g) => readSdroParams(model, g), describe: {}, cacheDir: false, threads: 1 });
    try {
      const params = task.initialParams();
      const names = Object.keys(params);
      expect(names.some((n) => n.startsWith('unet.controlnet_cond_embedding.'))).toBe(true);
      expect(names.some((n) => n.startsWith('image_encoder.vision_model.encoder.'))).toBe(true);
      const opt = { name: 'adamw' as const, weightDecay: 0 };
      const state = createOptimizerState(opt, params);
      const losses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const r = await task.microStep(params, createTrainRng(11)); // same noise, timesteps and examples each time
        losses.push(r.loss);
        // every part gets a gradient: blueprint path and reference path included
        if (i === 0) {
          for (const prefix of ['unet.controlnet_cond_embedding.conv_in.weight', 'image_encoder.vision_model.embeddings.patch_embedding.weight', 'unet.conv_in.weight']) {
            expect(r.grads[prefix].some((v) => v !== 0), prefix).toBe(true);
          }
        }
        optimizerStep(opt, state, params, r.grads, 1e-3);
      }
      expect(losses[5]).toBeLessThan(0.9 * losses[0]);
    } finally {
      await task.release();
    }
  });

  it('inkflow train sdro: mines pairs, drops empty blueprints, resumes exactly, and the output loads and colours', async () => {
    const data = join(tmp, 'pictures');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(data);
    for (const seed of [21, 22]) {
      const p = syntheticSdroPictures(seed, 64);
      writeFileSync(join(data, `c${seed}-sheet.png`), await encodePng(p.reference));
      writeFileSync(join(data, `c${seed}-pose.png`), await encodePng(p.target));
    }
    // A flat fill of character 21's commonest colour: similar to its views by colour, but without a single line.
    const sheet = syntheticSdroPictures(21, 64).reference;
    const counts = new Map<number, number>();
    for (let i = 0; i < sheet.data.length; i += 3) {
      const [r, g, b] = [sheet.data[i], sheet.data[i + 1], sheet.data[i + 2]];
      if ((r > 235 && g > 235 && b > 235) || Math.max(r, g, b) < 40) continue;
      counts.set((r << 16) | (g << 8) | b, (counts.get((r << 16) | (g << 8) | b) ?? 0) + 1);
    }
    const top = [...counts].sort((a, b) => b[1] - a[1])[0][0];
    const fill = createImage(64, 64, 3);
    for (let i = 0; i < fill.data.length; i += 3) fill.data.set([top >> 16, (top >> 8) & 255, top & 255], i);
    writeFileSync(join(data, 'fill.png'), await encodePng(fill));
    const output = join(tmp, 'tuned');
    const runDir = join(tmp, 'run');
    const opts = { model, data, output, runDir, steps: 3, checkpointEvery: 1, threshold: 0.5, lr: 1e-3, seed: 5, cacheDir: join(tmp, 'cache'), threads: 1 };
    const first = await trainSdro(opts);
    expect(first.images).toBe(5);
    // each character's two views both ways (4), and the fill with character 21's views both ways (4) …
    expect(first.minedPairs).toBe(8);
    // … of which the two with the fill as target have an empty blueprint
    expect(first.droppedPairs).toBe(2);
    expect(first.keptPairs).toBe(6);
    expect(first.losses.map((l) => l.step)).toEqual([1, 2, 3]);
    for (const f of ['config.json', 'loss.png', 'log.jsonl']) expect(existsSync(join(runDir, f)), f).toBe(true);

    // A run stopped after the step-1 checkpoint: later checkpoints and the output never written.
    for (const s of [2, 3]) rmSync(join(runDir, 'checkpoints', checkpointDirName(s)), { recursive: true });
    rmSync(output, { recursive: true });
    const resumed = await trainSdro(opts);
    expect(resumed.resumedFrom).toBe(1);
    expect(resumed.losses.map((l) => l.step)).toEqual([1, 2, 3]);
    resumed.losses.forEach((l, i) => expect(l.loss).toBeCloseTo(first.losses[i].loss, 5));

    // The output is a complete SDRO folder with changed weights, and colours through the inference loader.
    const before = openSafetensors(join(model, 'unet', 'diffusion_pytorch_model.safetensors'));
    const after = openSafetensors(join(output, 'unet', 'diffusion_pytorch_model.safetensors'));
    const key = 'controlnet_cond_embedding.conv_in.weight';
    expect(after.readF32(key).some((v, i) => v !== before.readF32(key)[i])).toBe(true);
    before.close();
    after.close();
    const pipe = await loadSdroPipeline(output, { cacheDir: false, threads: 1 });
    try {
      const p = syntheticSdroPictures(9000, 64);
      const res = await pipe.colorize({ reference: p.reference, blueprint: p.blueprint, steps: 2, seed: 1 });
      expect([res.image.width, res.image.height]).toEqual([64, 64]);
    } finally {
      await pipe.release();
    }
    await expect(trainSdro(opts)).rejects.toThrow(/exists/);
  });
});
