// The `inkflow` CLI as users run it: a real child process on the bundled example and the golden SDRO folder.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createImage, decodeImage, encodePng, readPngText } from '../../src/imaging/image.ts';
import { writeTinyColorizeCheckpoint } from '../../src/models/splitAttention/tinyColorizeCheckpoint.ts';
import { goldenRoot } from '../golden/io.ts';
import { generateCharacterPair } from '../../src/imaging/synthetic/characterSheet.ts';
import { inkflowRunner, REPO_ROOT } from './runInkflow.ts';

const out = mkdtempSync(join(tmpdir(), 'inkflow-cli-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const inkflow = inkflowRunner(join(out, 'cache'));

describe('inkflow CLI', () => {
  it('lists its commands and each command has --help', async () => {
    const top = await inkflow('--help');
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/colorize/);
    const help = await inkflow('colorize', '--help');
    expect(help.stdout).toMatch(/--palette-lock/);
  });

  it('colours the bundled example with --flat and embeds the settings', async () => {
    const o = join(out, 'flat.png');
    const r = await inkflow('colorize', '--flat', '--reference', 'examples/character-sheet.png', '--lineart', 'examples/lineart.png', '-o', o);
    expect(r.code, r.stderr).toBe(0);
    const png = readFileSync(o);
    const img = await decodeImage(png);
    expect([img.width, img.height]).toEqual([512, 512]);
    const meta = JSON.parse(readPngText(png).inkflow);
    expect(meta.method).toBe('flat');
    // The flat layer holds only palette colours (plus white paper).
    const flat = await decodeImage(readFileSync(join(out, 'flat-flat.png')));
    const allowed = new Set([...meta.palette.map((c: number[]) => c.join(',')), '255,255,255']);
    for (let i = 0; i < flat.data.length; i += 3 * 97) expect(allowed.has(`${flat.data[i]},${flat.data[i + 1]},${flat.data[i + 2]}`)).toBe(true);
  });

  it('says why when tiny line art cannot be coloured reliably (the flat node warnings reach the terminal)', async () => {
    // The bundled line art scaled to 40×40: lines close few regions, so the colouriser warns instead of
    // leaving a silently uncoloured picture.
    const line = await decodeImage(readFileSync(join(REPO_ROOT, 'examples/lineart.png')));
    const small = createImage(40, 40, 3);
    for (let y = 0; y < 40; y++) for (let x = 0; x < 40; x++) for (let c = 0; c < 3; c++) {
      small.data[(y * 40 + x) * 3 + c] = line.data[(Math.floor((y * line.height) / 40) * line.width + Math.floor((x * line.width) / 40)) * 3 + c];
    }
    writeFileSync(join(out, 'small-line.png'), await encodePng(small));
    const r = await inkflow('colorize', '--flat', '--reference', 'examples/character-sheet.png', '--lineart', join(out, 'small-line.png'), '-o', join(out, 'small.png'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^warning: line art is only 40×40/m);
  });

  it('colours with an SDRO model folder, reproducibly for a seed', async () => {
    const g = join(goldenRoot, 'sdro_pipeline');
    const args = ['colorize', '--model', g, '--reference', join(g, 'reference.png'), '--lineart', join(g, 'blueprint.png'), '--steps', '4', '--seed', '7'];
    const a = await inkflow(...args, '-o', join(out, 'a.png'));
    const b = await inkflow(...args, '-o', join(out, 'b.png'), '--palette-lock');
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const ia = await decodeImage(readFileSync(join(out, 'a.png')));
    expect([ia.width, ia.height]).toEqual([64, 64]);
    expect(JSON.parse(readPngText(readFileSync(join(out, 'a.png'))).inkflow)).toMatchObject({ method: 'sdro', steps: 4, seed: '7' });
    const again = await inkflow(...args, '-o', join(out, 'c.png'));
    expect(again.code).toBe(0);
    expect(Buffer.compare(await decodeRaw(join(out, 'a.png')), await decodeRaw(join(out, 'c.png')))).toBe(0);
    expect(JSON.parse(readPngText(readFileSync(join(out, 'b.png'))).inkflow).paletteLock.colors.length).toBeGreaterThan(0);
  });

  it('uses the bundled tiny SDRO model when neither --model nor --flat is given, and says so', async () => {
    const pair = generateCharacterPair({ seed: 5_002_000, width: 128 });
    const ref = join(out, 'default-ref.png');
    const line = join(out, 'default-line.png');
    writeFileSync(ref, await encodePng(pair.reference));
    writeFileSync(line, await encodePng(pair.targetLineArt));
    const o = join(out, 'default.png');
    const r = await inkflow('colorize', '--reference', ref, '--lineart', line, '--steps', '2', '--seed', '3', '-o', o);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/no --model: using the bundled tiny SDRO model .*models[\\/]default[\\/]sdro/);
    const img = await decodeImage(o, 3);
    expect([img.width, img.height]).toEqual([128, 128]);
    expect(JSON.parse(readPngText(readFileSync(o)).inkflow).model).toMatch(/models[\\/]default[\\/]sdro$/);
  });

  it('rejects bad input with a clear message and a non-zero exit', async () => {
    const missing = await inkflow('colorize', '--flat', '--lineart', 'examples/lineart.png');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--reference is required/);
    const notImage = join(out, 'not-an-image.png');
    writeFileSync(notImage, 'this is not a PNG');
    const bad = await inkflow('colorize', '--flat', '--reference', notImage, '--lineart', 'examples/lineart.png', '-o', join(out, 'x.png'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/cannot decode image/);
    const both = await inkflow('colorize', '--flat', '--model', 'x', '--reference', 'a', '--lineart', 'b');
    expect(both.stderr).toMatch(/choose one of --flat and --model/);
    const unknown = await inkflow('paint');
    expect(unknown.code).toBe(2);
  });
});

describe('inkflow colorize with a ColorizeDiffusion checkpoint', () => {
  it('detects the single file, runs each --mode, embeds the mode and guidance, and refuses --mode for SDRO', async () => {
    const model = await writeTinyColorizeCheckpoint(join(out, 'switch-tiny.safetensors'));
    const ref = createImage(48, 40, 3, 255);
    for (let i = 0; i < 48 * 40; i++) if ((i % 48) > 12 && (i % 48) < 36) ref.data.set([200, 40, 30], i * 3);
    const line = createImage(56, 40, 3, 255);
    for (let x = 10; x < 40; x++) for (const y of [8, 30]) line.data.set([0, 0, 0], (y * 56 + x) * 3);
    for (let y = 8; y <= 30; y++) for (const x of [10, 39]) line.data.set([0, 0, 0], (y * 56 + x) * 3);
    writeFileSync(join(out, 'cd-ref.png'), await encodePng(ref));
    writeFileSync(join(out, 'cd-line.png'), await encodePng(line));
    const base = ['colorize', '--model', model, '--reference', join(out, 'cd-ref.png'), '--lineart', join(out, 'cd-line.png'), '--steps', '2', '--seed', '5'];
    const f2f = await inkflow(...base, '--mode', 'fig2fig', '--ref-guidance', '3', '--sketch-guidance', '1.5', '-o', join(out, 'cd-f2f.png'));
    expect(f2f.code, f2f.stderr).toBe(0);
    const png = readFileSync(join(out, 'cd-f2f.png'));
    const img = await decodeImage(png);
    expect([img.width, img.height]).toEqual([56, 40]);
    expect(JSON.parse(readPngText(png).inkflow)).toMatchObject({
      method: 'colorize-diffusion', mode: 'fig2fig', steps: 2, seed: '5', refGuidance: 3, sketchGuidance: 1.5, prediction: 'v_prediction',
    });
    const again = await inkflow(...base, '--mode', 'fig2fig', '--ref-guidance', '3', '--sketch-guidance', '1.5', '-o', join(out, 'cd-f2f-2.png'));
    expect(again.code, again.stderr).toBe(0);
    expect(Buffer.compare(await decodeRaw(join(out, 'cd-f2f.png')), await decodeRaw(join(out, 'cd-f2f-2.png')))).toBe(0);
    const vanilla = await inkflow(...base, '--palette-lock', '-o', join(out, 'cd-vanilla.png'));
    expect(vanilla.code, vanilla.stderr).toBe(0);
    expect(JSON.parse(readPngText(readFileSync(join(out, 'cd-vanilla.png'))).inkflow)).toMatchObject({ mode: 'vanilla', refGuidance: 4, sketchGuidance: 1 });

    const g = join(goldenRoot, 'sdro_pipeline');
    const sdro = await inkflow('colorize', '--model', g, '--mode', 'fig2fig', '--reference', join(g, 'reference.png'), '--lineart', join(g, 'blueprint.png'));
    expect(sdro.code).toBe(2);
    expect(sdro.stderr).toMatch(/--mode applies to ColorizeDiffusion checkpoints .* only; .* is an SDRO model folder/);
    const badMode = await inkflow(...base, '--mode', 'sideways', '-o', join(out, 'x.png'));
    expect(badMode.code).toBe(2);
    expect(badMode.stderr).toMatch(/--mode must be one of vanilla, fg_enhance, bg_enhance, fig2fig/);
    const notCd = join(out, 'plain.safetensors');
    writeFileSync(notCd, readFileSync(join(goldenRoot, 'models', 'unet_tiny', 'weights.safetensors')));
    const plain = await inkflow('colorize', '--model', notCd, '--reference', join(out, 'cd-ref.png'), '--lineart', join(out, 'cd-line.png'));
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/not a ColorizeDiffusion checkpoint/);
  });
});

async function decodeRaw(path: string): Promise<Buffer> {
  return Buffer.from((await decodeImage(readFileSync(path))).data);
}
