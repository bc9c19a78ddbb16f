// The `inkflow` CLI as users run it: a real child process on the bundled example and the golden SDRO folder.
import { describe, it, expect, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeImage, readPngText } from '../../src/imaging/image.ts';
import { goldenRoot } from '../golden/io.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '../..');
const out = mkdtempSync(join(tmpdir(), 'inkflow-cli-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

async function inkflow(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run('node', [join(root, 'bin/inkflow.js'), ...args], { cwd: root, env: { ...process.env, INKFLOW_CACHE: join(out, 'cache') } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

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
    expect(both.stderr).toMatch(/exactly one of --flat and --model/);
    const unknown = await inkflow('paint');
    expect(unknown.code).toBe(2);
  });
});

async function decodeRaw(path: string): Promise<Buffer> {
  return Buffer.from((await decodeImage(readFileSync(path))).data);
}
