// InkflowT2IAdapterApply's step range on the tiny checkpoint and adapter: without start/end percent the
// adapter acts at every step (diffusers semantics); the full range 0–1 gives those very pixels; the studio's
// sketch fidelity 0.5 (scale 0.5, end_percent 0.5) lands between no adapter and the adapter at scale 0.5
// on every step; a reversed range is refused in words.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createImage, decodeImage, encodePng, type Image } from '../../imaging/image.ts';
import { TINY_T2I_ADAPTER, TOKENIZER_DIR, assertTinyModels, writeTinyDiffusersCheckpoint } from '../../pipelines/generate/tinyCheckpoint.ts';
import { tempWorkflowEnv } from '../../../test/workflow/transcripts.ts';
import type { ApiPrompt } from '../api.ts';
import { createExecutor } from '../executor.ts';

assertTinyModels(TINY_T2I_ADAPTER);
const env = { ...tempWorkflowEnv(['checkpoints', 'controlnet', 't2i_adapter']), tokenizerDir: TOKENIZER_DIR };
env.modelDirs.t2i_adapter = [join(TINY_T2I_ADAPTER, '..')];
const executor = createExecutor(env);

beforeAll(async () => {
  await writeTinyDiffusersCheckpoint(join(env.modelDirs.checkpoints[0], 'tiny'));
  const sketch = createImage(16, 16, 3);
  for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) sketch.data.fill(Math.abs(x - y) < 2 || x === 4 ? 0 : 255, (y * 16 + x) * 3, (y * 16 + x) * 3 + 3);
  writeFileSync(join(env.inputDir, 'sketch.png'), await encodePng(sketch));
});
afterAll(() => executor.free({ unloadModels: true, freeMemory: true }));

function graph(adapter: Record<string, unknown> | null): ApiPrompt {
  return {
    1: { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'tiny' } },
    2: { class_type: 'CLIPTextEncode', inputs: { text: 'a cat', clip: ['1', 1] } },
    3: { class_type: 'CLIPTextEncode', inputs: { text: 'blurry', clip: ['1', 1] } },
    4: { class_type: 'EmptyLatentImage', inputs: { width: 16, height: 16, batch_size: 1 } },
    6: { class_type: 'LoadImage', inputs: { image: 'sketch.png' } },
    7: { class_type: 'ControlNetLoader', inputs: { control_net_name: 't2i_adapter_tiny' } },
    ...(adapter ? { 8: { class_type: 'InkflowT2IAdapterApply', inputs: { positive: ['2', 0], negative: ['3', 0], adapter: ['7', 0], image: ['6', 0], ...adapter } } } : {}),
    5: { class_type: 'KSampler', inputs: { seed: 4, steps: 4, cfg: 7, sampler_name: 'euler', scheduler: 'normal', denoise: 1, model: ['1', 0], positive: adapter ? ['8', 0] : ['2', 0], negative: adapter ? ['8', 1] : ['3', 0], latent_image: ['4', 0] } },
    9: { class_type: 'VAEDecode', inputs: { samples: ['5', 0], vae: ['1', 2] } },
    10: { class_type: 'SaveImage', inputs: { images: ['9', 0], filename_prefix: 'adapter' } },
  };
}

async function pixels(adapter: Record<string, unknown> | null): Promise<Image> {
  const out = await executor.run({ promptId: `p${Math.random()}`, prompt: graph(adapter) }, { signal: new AbortController().signal, emit: () => {} });
  if (out.status !== 'success') throw new Error(JSON.stringify(out));
  const [s] = out.outputs['10'].images as { filename: string; subfolder: string }[];
  return decodeImage(readFileSync(join(env.outputDir, s.subfolder, s.filename)), 3);
}
const dist = (a: Image, b: Image) => a.data.reduce((acc, v, i) => acc + Math.abs(v - b.data[i]), 0) / a.data.length;

describe('InkflowT2IAdapterApply step range', () => {
  it('full range = every step; fidelity 0.5 (end 0.5) lies strictly between none and every step', async () => {
    const none = await pixels(null);
    const every = await pixels({ scale: 0.5 });
    const full = await pixels({ scale: 0.5, start_percent: 0, end_percent: 1 });
    const early = await pixels({ scale: 0.5, start_percent: 0, end_percent: 0.5 });
    expect(dist(full, every)).toBe(0);
    expect(dist(every, none)).toBeGreaterThan(0.5);
    expect(dist(early, none)).toBeGreaterThan(0);
    expect(dist(early, every)).toBeGreaterThan(0);
  });

  it('refuses start_percent after end_percent', async () => {
    const out = await executor.run({ promptId: 'bad', prompt: graph({ scale: 1, start_percent: 0.8, end_percent: 0.2 }) }, { signal: new AbortController().signal, emit: () => {} });
    expect(out.status).not.toBe('success');
    expect(JSON.stringify(out)).toMatch(/start_percent \(0\.8\) must not be after end_percent \(0\.2\)/);
  });
});
