// Step previews through the real executor on the tiny checkpoint: linear latent colours at latent size
// without a decoder; with a TAESD-format taesd_decoder.safetensors in models/vae_approx, the tiny decoder's
// image at 8× the latent size.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import sharp from 'sharp';
import { toComfyPrompt, type GenerationRecord } from '../pipelines/generate/comfyPrompt.ts';
import { TOKENIZER_DIR, writeTinyDiffusersCheckpoint } from '../pipelines/generate/tinyCheckpoint.ts';
import { releasePreviewDecoders } from '../pipelines/preview/stepPreviewer.ts';
import { tempWorkflowEnv } from '../../test/workflow/transcripts.ts';
import { writeRandomTaesdDecoder } from '../../test/taesdFile.ts';
import type { ExecutionEvent } from './api.ts';
import { createExecutor } from './executor.ts';

const env = { ...tempWorkflowEnv(['checkpoints', 'loras', 'controlnet', 'vae_approx']), tokenizerDir: TOKENIZER_DIR };
const executor = createExecutor(env);

const record = (seed: string): GenerationRecord => ({
  model: 'tiny', prompt: 'a cat on a mat', negative: 'blurry', seed, steps: 3, cfg: 7, sampler: 'euler', scheduler: 'normal',
  width: 16, height: 16, batch: 1, denoise: 1, clipSkip: 1, loras: [], controlNets: [],
});

/** Runs a generation and returns the sizes of the preview JPEGs it sent (waiting for late ones). */
async function previewSizes(seed: string): Promise<{ width: number; height: number }[]> {
  const events: ExecutionEvent[] = [];
  const out = await executor.run({ promptId: `p${seed}`, prompt: toComfyPrompt(record(seed)) }, { signal: new AbortController().signal, emit: (e) => events.push(e) });
  expect(out.status).toBe('success');
  const deadline = Date.now() + 60_000;
  while (!events.some((e) => e.type === 'preview') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 200));
  const previews = events.flatMap((e) => (e.type === 'preview' ? [e] : []));
  return Promise.all(previews.map(async (p) => {
    expect(p.format).toBe('JPEG');
    const m = await sharp(p.bytes).metadata();
    return { width: m.width!, height: m.height! };
  }));
}

beforeAll(async () => {
  await writeTinyDiffusersCheckpoint(join(env.modelDirs.checkpoints[0], 'tiny'));
});
afterAll(async () => {
  executor.free({ unloadModels: true, freeMemory: true });
  await releasePreviewDecoders();
});

describe('step previews', () => {
  it('without a decoder in vae_approx: linear latent colours at latent size (the tiny VAE halves: 16² image → 8² latent and preview)', async () => {
    const sizes = await previewSizes('1');
    expect(sizes.length).toBeGreaterThanOrEqual(1);
    for (const s of sizes) expect(s).toEqual({ width: 8, height: 8 });
  });

  it('with taesd_decoder.safetensors in vae_approx: the TAESD image at 8× the latent (8² latent → 64² preview)', async () => {
    await writeRandomTaesdDecoder(join(env.modelDirs.vae_approx[0], 'taesd_decoder.safetensors'), 5);
    const sizes = await previewSizes('2');
    expect(sizes.length).toBeGreaterThanOrEqual(1);
    for (const s of sizes) expect(s).toEqual({ width: 64, height: 64 });
  });
});
