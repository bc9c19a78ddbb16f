// The CLI as a hostile or careless user meets it (issue 13): long prompts, broken numbers, outputs that
// would clobber inputs or existing files, half-written batches, unbounded inputs, LoRA mistakes and the
// unclear cases. Every case asserts the one-line error, the exit code and that no file was written or
// changed. Process-level cases (a crash, ORT's own log lines, INKFLOW_DEBUG) run the real binary.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createImage, encodePng } from '../../src/imaging/image.ts';
import { lyingPng } from '../../src/imaging/imageInputFuzz.ts';
import { colorizeCommand } from '../../src/cli/commands/colorize.ts';
import { generateCommand } from '../../src/cli/commands/generate.ts';
import { describeError, exitCodeFor } from '../../src/cli/errors.ts';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../../src/weights/safetensors.ts';
import { assertTinyModels, writeTinyDiffusersCheckpoint } from '../../src/pipelines/generate/tinyCheckpoint.ts';

const root = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'inkflow-harden-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { ...process.env, INKFLOW_CACHE: join(dir, 'cache') };

function inkflow(args: string[], extraEnv: Record<string, string> = {}): { code: number | null; signal: string | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin/inkflow.js'), ...args], { cwd: root, encoding: 'utf8', env: { ...env, ...extraEnv } });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a command in-process; returns the exit code and the user-visible line as main.ts would print it. */
async function run(cmd: typeof generateCommand, args: string[]): Promise<{ code: number; line: string }> {
  try {
    return { code: await cmd.run(args), line: '' };
  } catch (e) {
    return { code: exitCodeFor(e), line: `inkflow: ${describeError(e)}` };
  }
}

/** Every file under `d` with its size and mtime, to prove nothing was written or changed. */
function snapshot(d: string): string {
  return readdirSync(d, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const p = join(e.parentPath, e.name);
      const st = statSync(p);
      return `${p}:${st.size}:${st.mtimeMs}:${readFileSync(p).toString('base64').slice(0, 64)}`;
    })
    .sort()
    .join('\n');
}

describe('colorize: outputs never clobber inputs or existing files', () => {
  const work = join(dir, 'colorize');
  const ref = join(work, 'sheet.png');
  const page = join(work, 'page.png');
  beforeAll(() => {
    mkdirSync(work, { recursive: true });
    cpSync(join(root, 'examples/character-sheet.png'), ref);
    cpSync(join(root, 'examples/lineart.png'), page);
  });

  it('-o equal to the line art is refused (exit 2) and the line art is untouched', async () => {
    const before = snapshot(work);
    const r = await run(colorizeCommand, ['--flat', '--reference', ref, '--lineart', page, '-o', page]);
    expect(r.code).toBe(2);
    expect(r.line).toBe(`inkflow: output ${page} — it is the --lineart input ${page}; writing it would destroy the input (choose another -o)`);
    expect(snapshot(work)).toBe(before);
    // Also through another spelling of the same file, and with --overwrite.
    const r2 = await run(colorizeCommand, ['--flat', '--reference', ref, '--lineart', page, '-o', join(work, '.', 'x', '..', 'page.png'), '--overwrite']);
    expect(r2.code).toBe(2);
    expect(snapshot(work)).toBe(before);
  });

  it('a side file (-flat.png, -shading.png) equal to an input is refused too', async () => {
    const before = snapshot(work);
    const sheetFlat = join(work, 'sheet-flat.png');
    cpSync(ref, sheetFlat);
    const r = await run(colorizeCommand, ['--flat', '--reference', sheetFlat, '--lineart', page, '-o', join(work, 'sheet.png'), '--overwrite']);
    expect(r.code).toBe(2);
    expect(r.line).toMatch(/output .*sheet-flat\.png — it is the --reference input/);
    rmSync(sheetFlat);
    expect(snapshot(work)).toBe(before);
  });

  it('an existing output needs --overwrite; both files of a --flat run appear together', async () => {
    const out = join(work, 'out.png');
    writeFileSync(join(work, 'out-flat.png'), 'not mine to replace');
    const before = snapshot(work);
    const r = await run(colorizeCommand, ['--flat', '--reference', ref, '--lineart', page, '-o', out]);
    expect(r.code).toBe(2);
    expect(r.line).toBe(`inkflow: output ${join(work, 'out-flat.png')} — the file already exists (pass --overwrite to replace it, or choose another -o)`);
    expect(snapshot(work)).toBe(before);
    expect((await run(colorizeCommand, ['--flat', '--reference', ref, '--lineart', page, '-o', out, '--overwrite'])).code).toBe(0);
    expect(readFileSync(join(work, 'out-flat.png')).subarray(1, 4).toString()).toBe('PNG');
    expect(readdirSync(work).filter((f) => f.startsWith('.'))).toEqual([]); // no temporary files left
  });

  it('an output folder that cannot exist fails before any work', async () => {
    const r = await run(colorizeCommand, ['--flat', '--reference', ref, '--lineart', page, '-o', join(page, 'sub', 'o.png')]);
    expect(r.code).toBe(1);
    expect(r.line).toMatch(/^inkflow: cannot write to .*page\.png\/sub: /);
  });
});

describe('bounded inputs and clear cases (colorize)', () => {
  const work = join(dir, 'inputs');
  beforeAll(async () => {
    mkdirSync(work, { recursive: true });
    writeFileSync(join(work, 'bomb.png'), lyingPng(16384, 16384));
    writeFileSync(join(work, 'black.png'), await encodePng(createImage(32, 32, 3, 0)));
    const t = createImage(32, 32, 4, 0); // transparent background (RGB 0), black square outline
    for (let i = 4; i < 28; i++) for (const [x, y] of [[i, 4], [i, 27], [4, i], [27, i]]) t.data.set([0, 0, 0, 255], (y * 32 + x) * 4);
    writeFileSync(join(work, 'transparent.png'), await encodePng(t));
    writeFileSync(join(work, 'model.ckpt'), Buffer.concat([Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00]), Buffer.alloc(64, 0x2e)]));
    writeFileSync(join(work, 'corrupt.safetensors'), Buffer.concat([Buffer.from([200, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}')]));
  });
  const ref = join(root, 'examples/character-sheet.png');

  it('/dev/zero as line art and a 115 KB PNG declaring 16384² fail at once, writing nothing', async () => {
    const before = snapshot(work);
    const zero = await run(colorizeCommand, ['--flat', '--reference', ref, '--lineart', '/dev/zero', '-o', join(work, 'o.png')]);
    expect(zero.code).toBe(1);
    expect(zero.line).toMatch(/^inkflow: \/dev\/zero: more than [\d,]+ bytes, over the input limit/);
    const bomb = await run(colorizeCommand, ['--flat', '--reference', join(work, 'bomb.png'), '--lineart', ref, '-o', join(work, 'o.png')]);
    expect(bomb.code).toBe(1);
    expect(bomb.line).toMatch(/bomb\.png: image of 16384×16384 = 268,435,456 pixels is over the limit/);
    expect(snapshot(work)).toBe(before);
  });

  it('all-black line art is named as such; a transparent background counts as white paper', async () => {
    const black = await run(colorizeCommand, ['--flat', '--reference', ref, '--lineart', join(work, 'black.png'), '-o', join(work, 'b.png')]);
    expect(black.code).toBe(1);
    expect(black.line).toMatch(/line art .*black\.png — the image is entirely black, so it has no lines to colour/);
    const t = await run(colorizeCommand, ['--flat', '--reference', ref, '--lineart', join(work, 'transparent.png'), '-o', join(work, 't.png')]);
    expect(t.code, t.line).toBe(0);
  });

  it('a pickle or a corrupt file given to --model is named as what it is', async () => {
    const pickle = await run(colorizeCommand, ['--model', join(work, 'model.ckpt'), '--reference', ref, '--lineart', ref, '-o', join(work, 'p.png')]);
    expect(pickle.code).toBe(1);
    expect(pickle.line).toMatch(/model\.ckpt is a Python pickle .* refuses pickle checkpoints/);
    const corrupt = await run(colorizeCommand, ['--model', join(work, 'corrupt.safetensors'), '--reference', ref, '--lineart', ref, '-o', join(work, 'p.png')]);
    expect(corrupt.code).toBe(1);
    expect(corrupt.line).not.toMatch(/ColorizeDiffusion/);
    expect(corrupt.line).toMatch(/corrupt\.safetensors/);
  });

  it('seeds and unknown options parse the same in colorize and generate (exit 2, 0 … 2^64−1)', async () => {
    const required = { colorize: ['--flat', '--reference', ref, '--lineart', ref], generate: ['--model', root, '--prompt', 'x'] };
    for (const cmd of [colorizeCommand, generateCommand]) {
      const big = await run(cmd, ['--seed', '18446744073709551616', ...required[cmd.name as 'colorize' | 'generate'], '-o', join(work, 's.png')]);
      expect(big.code).toBe(2);
      expect(big.line).toMatch(/--seed must be an integer in 0 … 2\^64−1/);
      const unknown = await run(cmd, ['--bogus']);
      expect(unknown.code).toBe(2);
      expect(unknown.line).toBe(`inkflow: ${cmd.name}: Unknown option '--bogus' (see inkflow ${cmd.name} --help)`);
    }
    const max = await run(colorizeCommand, ['--flat', '--seed', '18446744073709551615', '--reference', ref, '--lineart', ref, '-o', join(work, 'max.png')]);
    expect(max.code, max.line).toBe(0);
  });
});

assertTinyModels();
describe('generate (tiny checkpoint)', () => {
  const work = join(dir, 'gen');
  let model: string;
  beforeAll(async () => {
    mkdirSync(join(work, 'loras'), { recursive: true });
    model = await writeTinyDiffusersCheckpoint(join(dir, 'tiny'));
    const r = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.3 + s) * 0.5);
    await writeSafetensors(join(work, 'loras', 'ink.safetensors'), [
      { name: 'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight', dtype: 'F32', shape: [2, 32, 1, 1], data: r(64, 1) },
      { name: 'lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight', dtype: 'F32', shape: [32, 2, 1, 1], data: r(64, 2) },
      { name: 'lora_unet_input_blocks_9_1_proj_in.lora_down.weight', dtype: 'F32', shape: [2, 32], data: r(64, 3) },
      { name: 'lora_unet_input_blocks_9_1_proj_in.lora_up.weight', dtype: 'F32', shape: [32, 2], data: r(64, 4) },
    ]);
    cpSync(join(model, 'vae', 'diffusion_pytorch_model.safetensors'), join(work, 'loras', 'notalora.safetensors'));
  });
  const args = (o: string, ...more: string[]) => ['--model', model, '--prompt', 'a cat', '--width', '16', '--height', '16', '--steps', '2', '--sampler', 'euler', '--scheduler', 'normal', '--seed', '3', '-o', o, ...more];

  it('regression: a 6,000-word prompt on the command line runs (was signal 11 inside onnxruntime)', () => {
    const words = ['cat', 'dog', 'watercolor', 'hair', '(happy:1.2)', 'background', 'girl', 'smile'];
    const prompt = Array.from({ length: 6000 }, (_, i) => words[(i * 5) % words.length]).join(' ');
    const r = inkflow(['generate', ...args(join(work, 'long.png'), '--steps', '1').map((a) => (a === 'a cat' ? prompt : a))]);
    expect(prompt.length).toBeGreaterThan(40_000); // the crash needed ~30 KB of command line
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(work, 'long.png'))).toBe(true);
  });

  it('-n 2 with the second name taken: refused before sampling, nothing written', async () => {
    writeFileSync(join(work, 'batch-2.png'), 'keep');
    const before = snapshot(work);
    const r = await run(generateCommand, args(join(work, 'batch.png'), '-n', '2'));
    expect(r.code).toBe(2);
    expect(r.line).toMatch(/batch-2\.png — the file already exists \(pass --overwrite/);
    expect(snapshot(work)).toBe(before);
    expect((await run(generateCommand, args(join(work, 'batch.png'), '-n', '2', '--overwrite'))).code).toBe(0);
    expect(readFileSync(join(work, 'batch-2.png')).subarray(1, 4).toString()).toBe('PNG');
  });

  it('an init image given as the output is refused', async () => {
    const init = join(work, 'init.png');
    writeFileSync(init, await encodePng(createImage(16, 16, 3, 128)));
    const before = snapshot(work);
    const r = await run(generateCommand, args(init, '--init', init, '--denoise', '0.5', '--overwrite'));
    expect(r.code).toBe(2);
    expect(r.line).toMatch(/it is the --init input/);
    expect(snapshot(work)).toBe(before);
  });

  it('--width 16384 --height 16384 is refused with the estimate and the limit, before sampling', async () => {
    const r = await run(generateCommand, args(join(work, 'huge.png'), '--width', '16384', '--height', '16384'));
    expect(r.code).toBe(1);
    expect(r.line).toMatch(/^inkflow: a 16384×16384 generation of 1 image needs about [\d.]+ [GT]?B of memory .* over the [\d.]+ GB available/);
    expect(existsSync(join(work, 'huge.png'))).toBe(false);
  });

  it('NaN UNet weights: exit 1 naming the stage, file and tensor; no PNG', async () => {
    const bad = join(dir, 'tiny-nan');
    cpSync(model, bad, { recursive: true });
    const file = join(bad, 'unet', 'diffusion_pytorch_model.safetensors');
    const rd = openSafetensors(file);
    const tensors: TensorToWrite[] = [...rd.tensors].map(([k, info]) => {
      const data = rd.readF32(k);
      if (k === 'conv_out.bias') data[0] = NaN;
      return { name: k, dtype: 'F32', shape: info.shape, data };
    });
    rd.close();
    await writeSafetensors(file, tensors);
    const r = await run(generateCommand, args(join(work, 'nan.png')).map((a) => (a === model ? bad : a)));
    expect(r.code).toBe(1);
    expect(r.line).toMatch(/^inkflow: sampling produced non-finite numbers: denoised latent at step 1\/2 .* — UNet \(.*tiny-nan\/unet\/diffusion_pytorch_model\.safetensors\): weights hold NaN\/inf: conv_out\.bias \(1 of 4\)/);
    expect(existsSync(join(work, 'nan.png'))).toBe(false);
  });

  it('LoRA: unmatched modules are reported; a file without LoRA keys and a tag leaving the folder are refused', async () => {
    const lines: string[] = [];
    const orig = console.error;
    console.error = (...a: unknown[]) => lines.push(a.join(' '));
    try {
      const ok = await run(generateCommand, [...args(join(work, 'lora.png'), '--loras', join(work, 'loras')).map((a) => (a === 'a cat' ? 'a cat <lora:ink:0.8>' : a))]);
      expect(ok.code, ok.line).toBe(0);
    } finally {
      console.error = orig;
    }
    expect(lines).toContain('LoRA: 1 file, 1 UNet and 0 text-encoder weights patched');
    expect(lines.some((l) => /^warning: LoRA .*ink\.safetensors: 1 module matched no weight of this checkpoint \(lora_unet_input_blocks_9_1_proj_in\)/.test(l))).toBe(true);
    const not = await run(generateCommand, args(join(work, 'l2.png'), '--lora', join(work, 'loras', 'notalora.safetensors')));
    expect(not.code).toBe(1);
    expect(not.line).toMatch(/notalora\.safetensors is not a LoRA — it has no LoRA weights/);
    const escape = await run(generateCommand, [...args(join(work, 'l3.png'), '--loras', join(work, 'loras')).map((a) => (a === 'a cat' ? 'a cat <lora:../../tiny/unet/diffusion_pytorch_model:1>' : a))]);
    expect(escape.code).toBe(1);
    expect(escape.line).toMatch(/unsafe file name .* "\.\." is not allowed/);
    expect(existsSync(join(work, 'l2.png')) || existsSync(join(work, 'l3.png'))).toBe(false);
  });

  it('--device cuda without CUDA: one clear line, no raw onnxruntime log; INKFLOW_DEBUG=1 adds the stack', () => {
    const r = inkflow(['generate', ...args(join(work, 'cuda.png'), '--device', 'cuda')]);
    expect(r.code).toBe(1);
    const lines = r.stderr.split('\n').filter((l) => l && !/^npm warn/.test(l) && !/ done in /.test(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^inkflow: CUDA execution provider unavailable/);
    expect(r.stderr).not.toMatch(/\[E:onnxruntime/);
    const d = inkflow(['generate', ...args(join(work, 'cuda.png'), '--device', 'cuda')], { INKFLOW_DEBUG: '1' });
    expect(d.stderr).toMatch(/\n\s+at /);
    expect(existsSync(join(work, 'cuda.png'))).toBe(false);
    const bare = inkflow([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/usage: inkflow <command>/);
  });
});
