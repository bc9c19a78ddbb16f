// SDXL single files with no side configs: a tiny SDXL whose sizes follow the released models' rules (64-wide
// heads, 32 norm groups, 256-wide time-id embedding) is written as a diffusers folder and as one sgm single file;
// the single file, opened with nothing but a tokenizer, must infer the folder's configs (UNet, both towers, VAE)
// and generate the folder's image — for the base layout and the refiner layout (bigG only, 5 time ids).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../imaging/image.ts';
import { loadSdxlCheckpoint } from '../../models/checkpoint/sdxlCheckpoint.ts';
import { generateSdxl, type SdxlGenerateRequest } from './sdxlGenerate.ts';
import { SDXL_GOLDEN, SDXL_TOKENIZER_DIR, writeRealRuleTinySdxl, writeTinySdxlSingleFile } from './tinySdxlCheckpoint.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-sdxl-infer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base: SdxlGenerateRequest = { prompt: 'a castle on a hill', negative: 'blurry', seed: 5, steps: 2, sampler: 'euler', scheduler: 'normal', width: 64, height: 64, cfg: 4 };
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('SDXL single files: configs inferred from keys and shapes alone', () => {
  for (const kind of ['base', 'refiner'] as const) {
    it(`${kind}: the single file infers the folder's configs and generates its image`, async () => {
      const folderPath = await writeRealRuleTinySdxl(join(dir, `tiny_${kind}`), kind);
      const file = await writeTinySdxlSingleFile(join(dir, `tiny_${kind}.safetensors`), { source: folderPath });
      // One compile cache for both: identical graphs and weights compile once.
      const cacheDir = join(dir, 'cache');
      const folder = loadSdxlCheckpoint(folderPath, { tokenizerDir: SDXL_TOKENIZER_DIR, cacheDir });
      const single = loadSdxlCheckpoint(file, { tokenizerDir: SDXL_TOKENIZER_DIR, cacheDir });
      try {
        expect(single.kind).toBe(kind);
        expect(single.unetConfig).toEqual(folder.unetConfig);
        const vae = (c: typeof folder.vaeConfig) => [c.block_out_channels, c.layers_per_block, c.latent_channels, c.norm_num_groups, c.scaling_factor];
        expect(vae(single.vaeConfig)).toEqual(vae(folder.vaeConfig));
        const fields = (c: { hidden_size: number; num_attention_heads: number; num_hidden_layers: number; intermediate_size: number; hidden_act: string; projection_dim: number }) =>
          [c.hidden_size, c.num_attention_heads, c.num_hidden_layers, c.intermediate_size, c.hidden_act, c.projection_dim];
        expect(fields(single.textG.config)).toEqual(fields(folder.textG.config));
        if (kind === 'base') expect(fields(single.textL!.config)).toEqual(fields(folder.textL!.config));
        else expect(single.textL).toBeUndefined();
        const init = await decodeImage(join(SDXL_GOLDEN, 'inputs', 'img2img_init.png'), 3);
        const req = kind === 'base' ? base : { ...base, init, denoise: 0.5 };
        const a = await generateSdxl(folder, req);
        const b = await generateSdxl(single, req);
        expect(maxDiff(a.latent, b.latent)).toBeLessThan(1e-5);
        expect(Number.isFinite(a.latent[0])).toBe(true);
      } finally {
        await folder.release();
        await single.release();
      }
    });
  }
});
