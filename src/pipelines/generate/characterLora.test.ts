// "The trained trigger word produces the trained character's colours": a character LoRA (attention +
// LoCon + text encoder) trained by trainLora on a kohya folder of one character — pink hair, yellow shirt,
// cyan pants — captioned only "ohwx, short hair, arms down" (no colour words), on the bundled tiny
// text-to-image model, whose vocabulary reserves "ohwx" unused. Sampled through generate() with the
// LoRA loaded by the checkpoint loader, the trigger prompt draws the character's colours (measured by
// the tag-accuracy measure); the base model does not know the word and draws other colours.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng } from '../../imaging/image.ts';
import { drawTaggedCharacter, type CharacterTags } from '../../imaging/synthetic/taggedCharacter.ts';
import { learnPartLayout, scoreTags, summarise } from '../../imaging/synthetic/tagAccuracy.ts';
import { loadCheckpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import { defaultTextToImagePath } from '../../models/defaultTextToImage.ts';
import { generate } from './generate.ts';
import { trainLora } from '../../train/loraTraining.ts';

const CHARACTER: CharacterTags = { hair: 'pink', shirt: 'yellow', pants: 'cyan', pose: 'arms down', skirt: false, longHair: false };
const PROMPT = 'ohwx, short hair, arms down';

describe('character LoRA on the bundled text-to-image model', () => {
  it('makes the trigger word draw the trained character\'s colours', async () => {
    const model = defaultTextToImagePath();
    expect(existsSync(join(model, 'model_index.json')), `${model} (the bundled model) is missing`).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'inkflow-trigger-'));
    try {
      const concept = join(dir, 'data', 'img', '10_ohwx character');
      mkdirSync(concept, { recursive: true });
      for (const seed of [1, 2, 3, 4]) {
        writeFileSync(join(concept, `c${seed}.png`), await encodePng(drawTaggedCharacter(900_000 + seed, 128, CHARACTER).image));
        writeFileSync(join(concept, `c${seed}.txt`), PROMPT);
      }
      const lora = join(dir, 'ohwx.safetensors');
      const run = await trainLora({
        model, data: join(dir, 'data'), runDir: join(dir, 'run'), output: lora, resolution: 128, steps: 120, lr: 5e-3, rank: 8, alpha: 8,
        convRank: 8, convAlpha: 8, textEncoder: true, batchSize: 2, seed: 1, threads: 1, cacheDir: false, checkpointEvery: 120,
      });
      const losses = run.losses.map((l) => l.loss);
      expect(losses.slice(-10).reduce((a, b) => a + b, 0)).toBeLessThan(losses.slice(0, 10).reduce((a, b) => a + b, 0));

      const layout = learnPartLayout(128, 60, 2_000_000);
      const ckpt = loadCheckpoint(model, { cacheDir: false, threads: 1 });
      try {
        const score = async (withLora: boolean) => {
          const scores = [];
          for (const seed of [11, 12, 13]) {
            const r = await generate(ckpt, { prompt: PROMPT, seed, width: 128, height: 128, steps: 16, cfg: 5, loras: withLora ? [{ path: lora, strengthModel: 1, strengthClip: 1 }] : [] });
            if (process.env.INKFLOW_TRIGGER_DUMP) writeFileSync(join(process.env.INKFLOW_TRIGGER_DUMP, `trigger-${withLora}-${seed}.png`), await encodePng(r.images[0]));
            scores.push(scoreTags(r.images[0], CHARACTER, layout));
          }
          return summarise(scores);
        };
        const base = await score(false);
        const trained = await score(true);
        if (process.env.INKFLOW_TRIGGER_DUMP) console.log({ base, trained, losses: losses.map((l) => l.toFixed(3)).join(' ') });
        // 3 pictures × 3 parts: the character's colours in at least 4 of the 9 parts with the LoRA, clearly more than
        // without (measured on the bundled step-1700 model: 4/9 — shirt 3/3, hair 1/3; the pants come out light blue,
        // nearer "blue" than "cyan" — vs 0/9 without the LoRA, which draws purple figures).
        expect(trained.colour).toBeGreaterThanOrEqual(0.4);
        expect(trained.colour).toBeGreaterThan(base.colour + 0.3);
      } finally {
        await ckpt.release();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
