// `inkflow generate` with an SDXL checkpoint, as a user runs it (a child process), on the tiny random-weight
// SDXL diffusers folder (golden/sdxl_pipeline): the PNG has generateSdxl()'s exact pixels; the default size
// is 1024 for SDXL; SDXL ControlNets, --prompt-l and the micro-conditioning options reach the graph; --clip-skip,
// SD1 ControlNets and SDXL-only flags on SD1 are refused with a usage error (exit 2) before any work.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createImage, decodeImage, encodePng, readPngText } from '../../src/imaging/image.ts';
import { openControlNet } from '../../src/models/checkpoint/controlNetRunner.ts';
import { loadSdxlCheckpoint } from '../../src/models/checkpoint/sdxlCheckpoint.ts';
import { generateSdxl } from '../../src/pipelines/generate/sdxlGenerate.ts';
import { SDXL_GOLDEN, SDXL_TOKENIZER_DIR, writeRealRuleTinySdxl, writeTinySdxlControlNet, writeTinySdxlSingleFile } from '../../src/pipelines/generate/tinySdxlCheckpoint.ts';
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

  it('a single .safetensors file with no side configs (configs inferred from its keys and shapes): the folder\'s exact pixels', async () => {
    const folder = await writeRealRuleTinySdxl(join(dir, 'real_rule_tiny'));
    const file = await writeTinySdxlSingleFile(join(dir, 'real_rule_tiny.safetensors'), { source: folder });
    const out = join(dir, 'single.png');
    const r = inkflow(['generate', '--model', file, '--tokenizer', SDXL_TOKENIZER_DIR, '--prompt', 'a castle on a hill', '--seed', '5', '--steps', '2', '--sampler', 'euler', '--scheduler', 'normal', '--cfg', '4', '--width', '64', '--height', '64', '-o', out]);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const got = await decodeImage(readFileSync(out), 3);
    const ckpt = loadSdxlCheckpoint(folder, { tokenizerDir: SDXL_TOKENIZER_DIR });
    try {
      const want = await generateSdxl(ckpt, { prompt: 'a castle on a hill', negative: '', seed: 5, steps: 2, sampler: 'euler', scheduler: 'normal', cfg: 4, width: 64, height: 64 });
      expect(Buffer.from(got.data).equals(Buffer.from(want.images[0].data))).toBe(true);
    } finally {
      await ckpt.release();
    }
  });

  it('defaults to 1024×1024 for SDXL, 512 for SD1', async () => {
    expect(defaultSize(SDXL_GOLDEN)).toBe(1024);
    expect(defaultSize(await writeTinyDiffusersCheckpoint(join(dir, 'tiny_sd1')))).toBe(512);
  });

  it('refuses --clip-skip, an SD1 ControlNet and SDXL-only flags on SD1 with a clear usage error, writing nothing', async () => {
    const out = join(dir, 'refused.png');
    const skip = inkflow([...common, '--width', '64', '--height', '64', '--clip-skip', '2', '-o', out]);
    expect(skip.code).toBe(2);
    expect(skip.stderr).toMatch(/--clip-skip is not supported with SDXL/);
    const cn = inkflow([...common, '--width', '64', '--height', '64', '--controlnet', TINY_CONTROLNET, '--control', join(SDXL_GOLDEN, 'inputs', 'img2img_init.png'), '-o', out]);
    expect(cn.code).toBe(2);
    expect(cn.stderr).toMatch(/is an SD1\/SD2 ControlNet but .* is an SDXL checkpoint/);
    const sd1 = await writeTinyDiffusersCheckpoint(join(dir, 'tiny_sd1_flags'));
    const flag = inkflow(['generate', '--model', sd1, '--prompt', 'x', '--prompt-l', 'y', '-o', out]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--prompt-l needs an SDXL checkpoint/);
    const bad = inkflow([...common, '--width', '64', '--height', '64', '--original-size', '64by64', '-o', out]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--original-size must look like 1024x1024/);
    const refinerOnly = inkflow([...common, '--width', '64', '--height', '64', '--aesthetic-score', '7', '-o', out]);
    expect(refinerOnly.code).toBe(2);
    expect(refinerOnly.stderr).toMatch(/--aesthetic-score is for SDXL refiner models/);
    expect(existsSync(out)).toBe(false);
  });

  it('--controlnet with an SDXL ControlNet, --prompt-l and the micro-conditioning: generateSdxl()\'s exact pixels', async () => {
    const cnDir = await writeTinySdxlControlNet(join(dir, 'tiny_sdxl_cn'));
    const hint = createImage(64, 64, 3);
    for (let i = 0; i < 64 * 64; i++) hint.data.fill(i % 64 < 24 ? 255 : 0, i * 3, i * 3 + 3);
    writeFileSync(join(dir, 'hint.png'), await encodePng(hint));
    const out = join(dir, 'xl_cn.png');
    const r = inkflow([...common, '--width', '64', '--height', '64', '--controlnet', cnDir, '--control', join(dir, 'hint.png'), '--strength', '0.8', '--end', '0.7',
      '--prompt-l', 'a watercolour sketch', '--original-size', '1024x768', '--crop-top-left', '8,16', '--target-size', '64x64', '-o', out]);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const got = await decodeImage(readFileSync(out), 3);
    const ckpt = loadSdxlCheckpoint(SDXL_GOLDEN, { tokenizerDir: SDXL_TOKENIZER_DIR });
    const cn = openControlNet(cnDir, { cacheDir: false });
    try {
      const req = { prompt: 'a photo of an astronaut riding a horse on mars', negative: 'blurry, low quality', seed: 42, steps: 3, sampler: 'euler', scheduler: 'normal', cfg: 5, width: 64, height: 64 };
      const micro = { width: 1024, height: 768, cropW: 8, cropH: 16, targetWidth: 64, targetHeight: 64 };
      const want = await generateSdxl(ckpt, { ...req, promptL: 'a watercolour sketch', micro, controlNets: [{ controlNet: cn, hint, strength: 0.8, endPercent: 0.7 }] });
      expect(Buffer.from(got.data).equals(Buffer.from(want.images[0].data))).toBe(true);
      const noL = await generateSdxl(ckpt, { ...req, micro, controlNets: [{ controlNet: cn, hint, strength: 0.8, endPercent: 0.7 }] });
      expect(Buffer.from(noL.images[0].data).equals(Buffer.from(want.images[0].data))).toBe(false);
    } finally {
      await cn.release();
      await ckpt.release();
    }
    const rec = JSON.parse(readPngText(readFileSync(out)).inkflow);
    expect(rec.sdxl).toMatchObject({ kind: 'base', promptL: 'a watercolour sketch', width: 1024, height: 768, cropW: 8, cropH: 16 });
    expect(JSON.parse(readPngText(readFileSync(out)).prompt)).toMatchObject({ 2: { class_type: 'CLIPTextEncodeSDXL', inputs: { text_l: 'a watercolour sketch', crop_w: 8, crop_h: 16 } } });
  });
});
