// `inkflow generate` with an SDXL checkpoint, as a user runs it (a child process), on the tiny random-weight
// SDXL diffusers folder (golden/sdxl_pipeline): the PNG has generateSdxl()'s exact pixels; the default size
// is 1024 for SDXL; --clip-skip and ControlNets are refused with a usage error (exit 2) before any work.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeImage, readPngText } from '../../src/imaging/image.ts';
import { loadSdxlCheckpoint } from '../../src/models/checkpoint/sdxlCheckpoint.ts';
import { generateSdxl } from '../../src/pipelines/generate/sdxlGenerate.ts';
import { SDXL_GOLDEN, SDXL_TOKENIZER_DIR } from '../../src/pipelines/generate/tinySdxlCheckpoint.ts';
import { TINY_CONTROLNET, writeTinyDiffusersCheckpoint } from '../../src/pipelines/generate/tinyCheckpoint.ts';
import { defaultSize } from '../../src/cli/commands/generate.ts';

const root = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'inkflow-cli-sdxl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { ...process.env, INKFLOW_CACHE: join(dir, 'cache') };

function inkflow(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin/inkflow.js'), ...args], { cwd: root, encoding: 'utf8', env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const common = ['generate', '--model', SDXL_GOLDEN, '--tokenizer', SDXL_TOKENIZER_DIR, '--prompt', 'a photo of an astronaut riding a horse on mars', '--negative', 'blurry, low quality', '--seed', '42', '--steps', '3', '--sampler', 'euler', '--scheduler', 'normal', '--cfg', '5'];

describe('inkflow generate --model SDXL (child process, tiny SDXL folder)', () => {
  it('writes generateSdxl()\'s exact pixels, with the settings in the PNG', async () => {
    const out = join(dir, 'xl.png');
    const r = inkflow([...common, '--width', '64', '--height', '64', '-o', out]);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/seed 42: .*xl\.png \(64×64, 3 steps euler\/normal, cfg 5\)/);
    const png = readFileSync(out);
    const got = await decodeImage(png, 3);
    const ckpt = loadSdxlCheckpoint(SDXL_GOLDEN, { tokenizerDir: SDXL_TOKENIZER_DIR });
    try {
      const want = await generateSdxl(ckpt, { prompt: 'a photo of an astronaut riding a horse on mars', negative: 'blurry, low quality', seed: 42, steps: 3, sampler: 'euler', scheduler: 'normal', cfg: 5, width: 64, height: 64 });
      expect(Buffer.from(got.data).equals(Buffer.from(want.images[0].data))).toBe(true);
    } finally {
      await ckpt.release();
    }
    expect(JSON.parse(readPngText(png).inkflow)).toMatchObject({ kind: 'generate', width: 64, height: 64, seed: '42' });
  });

  it('defaults to 1024×1024 for SDXL, 512 for SD1', async () => {
    expect(defaultSize(SDXL_GOLDEN)).toBe(1024);
    expect(defaultSize(await writeTinyDiffusersCheckpoint(join(dir, 'tiny_sd1')))).toBe(512);
  });

  it('refuses --clip-skip and ControlNets with a clear usage error, writing nothing', () => {
    const out = join(dir, 'refused.png');
    const skip = inkflow([...common, '--width', '64', '--height', '64', '--clip-skip', '2', '-o', out]);
    expect(skip.code).toBe(2);
    expect(skip.stderr).toMatch(/--clip-skip is not supported with SDXL/);
    const cn = inkflow([...common, '--width', '64', '--height', '64', '--controlnet', TINY_CONTROLNET, '--control', join(SDXL_GOLDEN, 'inputs', 'img2img_init.png'), '-o', out]);
    expect(cn.code).toBe(2);
    expect(cn.stderr).toMatch(/ControlNets are not supported with SDXL/);
    expect(existsSync(out)).toBe(false);
  });
});
