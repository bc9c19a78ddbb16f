// Reference colouring (SDRO, on the tiny golden folder) in workflows: ComfyUI's CLIPVisionLoader +
// CLIPVisionEncode give SDRO its reference embedding (the same image as SDRO encoding the reference itself),
// and an interrupt during the run stops it before its last step and leaves the executor usable.
import { describe, expect, it } from 'vitest';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { goldenRoot } from '../../test/golden/io.ts';
import { tempWorkflowEnv } from '../../test/workflow/transcripts.ts';
import { decodeImage, type Image } from '../imaging/image.ts';
import type { ApiPrompt, ExecutionEvent, JobOutcome } from './api.ts';
import { createExecutor } from './executor.ts';
import { loadSdroPipeline } from '../pipelines/colorize/sdro.ts';

const sdro = join(goldenRoot, 'sdro_pipeline');
const env = tempWorkflowEnv(['colorize', 'clip_vision']);
env.modelDirs.colorize = [goldenRoot];
env.modelDirs.clip_vision = [sdro]; // its image_encoder/ folder (config.json + model.safetensors)
copyFileSync(join(sdro, 'reference.png'), join(env.inputDir, 'reference.png'));
copyFileSync(join(sdro, 'blueprint.png'), join(env.inputDir, 'blueprint.png'));
const executor = createExecutor(env);

async function run(prompt: ApiPrompt, signal = new AbortController().signal, emit: (e: ExecutionEvent) => void = () => {}): Promise<{ out: JobOutcome; image?: Image }> {
  const out = await executor.run({ promptId: `p${Math.random()}`, prompt }, { signal, emit });
  const saved = Object.values(out.outputs).flatMap((o) => (o.images as { filename: string; subfolder: string }[]) ?? []);
  const image = saved[0] && (await decodeImage(readFileSync(join(env.outputDir, saved[0].subfolder, saved[0].filename)), 3));
  return { out, image };
}

/** Reference cropped to the encoder's 32 × 32 (so ComfyUI's and transformers' preprocessing agree), SDRO, save. */
function colorize(steps: number, seed: number, embedding = false): ApiPrompt {
  return {
    1: { class_type: 'LoadImage', inputs: { image: 'reference.png' } },
    2: { class_type: 'ImageCrop', inputs: { image: ['1', 0], width: 32, height: 32, x: 10, y: 5 } },
    3: { class_type: 'LoadImage', inputs: { image: 'blueprint.png' } },
    4: { class_type: 'InkflowReferenceColorize', inputs: { reference: ['2', 0], lineart: ['3', 0], model_name: 'sdro_pipeline', steps, seed, ...(embedding ? { reference_embedding: ['6', 0] } : {}) } },
    5: { class_type: 'SaveImage', inputs: { images: ['4', 0], filename_prefix: 'sdro' } },
    ...(embedding ? {
      7: { class_type: 'CLIPVisionLoader', inputs: { clip_name: 'image_encoder' } },
      6: { class_type: 'CLIPVisionEncode', inputs: { clip_vision: ['7', 0], image: ['2', 0], crop: 'center' } },
    } : {}),
  };
}

describe('reference colouring workflows (tiny SDRO)', () => {
  it('CLIPVisionEncode\'s output as SDRO\'s reference embedding gives SDRO\'s own result', async () => {
    const own = await run(colorize(2, 7));
    const viaClipVision = await run(colorize(2, 7, true));
    expect(own.out.status, JSON.stringify(own.out.messages.at(-1))).toBe('success');
    expect(viaClipVision.out.status, JSON.stringify(viaClipVision.out.messages.at(-1))).toBe('success');
    const a = own.image!;
    const b = viaClipVision.image!;
    expect([b.width, b.height]).toEqual([a.width, a.height]);
    const worst = a.data.reduce((m, v, i) => Math.max(m, Math.abs(v - b.data[i])), 0);
    expect(worst).toBeLessThanOrEqual(1);
    // The embedding is what SDRO used: another image's embedding changes the result.
    const other = colorize(2, 7, true);
    other[6].inputs.image = ['3', 0];
    const c = (await run(other)).image!;
    expect(c.data.some((v, i) => v !== a.data[i])).toBe(true);
  });

  it('an embedding of the wrong size is refused with the size SDRO needs', async () => {
    const pipe = await loadSdroPipeline(sdro, { cacheDir: false });
    try {
      const reference = await decodeImage(join(sdro, 'reference.png'), 3);
      const blueprint = await decodeImage(join(sdro, 'blueprint.png'), 3);
      const wrong = { shape: [1, 5, 32], data: new Float32Array(5 * 32) };
      await expect(pipe.colorize({ reference, blueprint, steps: 1, seed: 1, referenceEmbedding: wrong })).rejects.toThrow(/\[1, 5, 32\].*needs a CLIP last_hidden_state of \[1, 17, 32\]/);
    } finally {
      await pipe.release();
    }
  });

  it('an interrupt during SDRO stops before the last step; the executor then runs the next prompt', async () => {
    const ctl = new AbortController();
    const events: ExecutionEvent[] = [];
    const steps = 6;
    const { out } = await run(colorize(steps, 11), ctl.signal, (e) => {
      events.push(e);
      if (e.type === 'progress' && e.data.node === '4' && e.data.value === 2) ctl.abort();
    });
    expect(out.status).toBe('interrupted');
    const progress = events.flatMap((e) => (e.type === 'progress' && e.data.node === '4' ? [Number(e.data.value)] : []));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...progress)).toBeLessThan(steps);
    expect(events.some((e) => e.type === 'execution_interrupted')).toBe(true);
    const next = await run(colorize(1, 12));
    expect(next.out.status).toBe('success');
    expect(next.image!.width).toBeGreaterThan(0);
  });
});
