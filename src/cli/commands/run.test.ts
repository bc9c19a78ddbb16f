// `inkflow run`: an API-format workflow written by hand gives byte-identical pixels to `inkflow generate`
// with the same settings (64-bit seed included); a PNG runs again from its embedded prompt; bad files
// get clear errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createImage, decodeImage, encodePng, readPngText } from '../../imaging/image.ts';
import { TOKENIZER_DIR, writeTinyDiffusersCheckpoint } from '../../pipelines/generate/tinyCheckpoint.ts';
import { dataFolderEnv } from '../../workflow/dataFolder.ts';
import { generateCommand } from './generate.ts';
import { runCommand } from './run.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-cli-run-'));
const data = join(dir, 'data');
const env = dataFolderEnv(data);
let model: string;
const logged: string[] = [];
const log = console.log;

beforeAll(async () => {
  model = await writeTinyDiffusersCheckpoint(join(env.modelDirs.checkpoints[0], 'tiny'));
  console.log = (...a: unknown[]) => logged.push(a.join(' '));
});
afterAll(() => {
  console.log = log;
  rmSync(dir, { recursive: true, force: true });
});

async function pixels(path: string): Promise<Buffer> {
  return Buffer.from((await decodeImage(readFileSync(path), 3)).data);
}

/** The txt2img graph as a ComfyUI user writes it (seed spelled as raw JSON digits). */
function workflowJson(seed: string): string {
  return `{
  "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "tiny"}},
  "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a (cat:1.3) on a mat", "clip": ["4", 1]}},
  "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["4", 1]}},
  "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 16, "height": 16, "batch_size": 1}},
  "3": {"class_type": "KSampler", "inputs": {"seed": ${seed}, "steps": 3, "cfg": 6.0, "sampler_name": "euler_ancestral", "scheduler": "normal", "denoise": 1.0,
        "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
  "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
  "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "run/test", "images": ["8", 0]}}
}`;
}

describe('inkflow run (tiny checkpoint)', () => {
  const gen = ['--model', '', '--prompt', 'a (cat:1.3) on a mat', '--negative', 'blurry', '--steps', '3', '--cfg', '6', '--sampler', 'euler_ancestral', '--scheduler', 'normal', '--width', '16', '--height', '16'];

  for (const seed of ['1234', '18446744073709551615']) {
    it(`gives generate's exact pixels for the equivalent API workflow (seed ${seed})`, async () => {
      const cliOut = join(dir, `gen-${seed}.png`);
      gen[1] = model;
      expect(await generateCommand.run([...gen, '--seed', seed, '-o', cliOut, '--tokenizer', TOKENIZER_DIR])).toBe(0);
      const wf = join(dir, `wf-${seed}.json`);
      writeFileSync(wf, workflowJson(seed));
      logged.length = 0;
      expect(await runCommand.run([wf, '--data', data, '--tokenizer', TOKENIZER_DIR])).toBe(0);
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatch(/run\/test_\d{5}_\.png$/);
      expect((await pixels(logged[0])).equals(await pixels(cliOut))).toBe(true);
      expect(readPngText(readFileSync(logged[0])).prompt).toContain(`"seed": ${seed}`);
    });
  }

  it('runs a PNG again from its embedded prompt, carrying its other metadata along', async () => {
    const src = logged[0];
    const withWorkflow = join(dir, 'with-workflow.png');
    const { insertPngText } = await import('../../imaging/image.ts');
    writeFileSync(withWorkflow, insertPngText(readFileSync(src), { workflow: '{"nodes": [], "note": "ui"}' }));
    logged.length = 0;
    expect(await runCommand.run([withWorkflow, '--data', data, '--tokenizer', TOKENIZER_DIR])).toBe(0);
    expect((await pixels(logged[0])).equals(await pixels(src))).toBe(true);
    expect(JSON.parse(readPngText(readFileSync(logged[0])).workflow)).toEqual({ nodes: [], note: 'ui' });
  });

  it('refuses what it cannot run, saying why', async () => {
    const ui = join(dir, 'ui.json');
    writeFileSync(ui, JSON.stringify({ nodes: [], links: [] }));
    await expect(runCommand.run([ui, '--data', data])).rejects.toThrow(/UI workflow, not the API format/);
    const plain = join(dir, 'plain.png');
    writeFileSync(plain, await encodePng(createImage(2, 2, 3)));
    await expect(runCommand.run([plain, '--data', data])).rejects.toThrow(/no "prompt" tEXt chunk/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, workflowJson('1').replace('"steps": 3', '"steps": 0').replace('"ckpt_name": "tiny"', '"ckpt_name": "../tiny"'));
    await expect(runCommand.run([bad, '--data', data])).rejects.toThrow(/Value 0 smaller than min of 1[^]*ckpt_name: '..\/tiny' not in \['tiny', 'default \(bundled\)'\]/); // the bundled model is a choice too
    await expect(runCommand.run([join(dir, 'missing.json')])).rejects.toThrow(/cannot read/);
    await expect(runCommand.run([])).rejects.toThrow(/give one workflow/);
  });
});

describe('generation records read back by --from', async () => {
  const { parseGenerationRecord } = await import('../generationRecord.ts');
  const good = {
    kind: 'generate', model: 'm', prompt: 'p', negative: '', seed: '18446744073709551615', steps: 20, cfg: 8, sampler: 'euler', scheduler: 'karras',
    width: 64, height: 64, batch: 1, denoise: 1, clipSkip: 1, loras: [], controlNets: [],
  };
  it('accepts a record within the node declarations and names what is out of range', () => {
    expect(parseGenerationRecord(good).ok).toBe(true);
    const bad = parseGenerationRecord({ ...good, steps: 0, sampler: 'nope', seed: '18446744073709551616' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.problems).toMatch(/steps/);
      expect(bad.problems).toMatch(/sampler/);
      expect(bad.problems).toMatch(/seed must be below 2\^64/);
    }
  });
});
