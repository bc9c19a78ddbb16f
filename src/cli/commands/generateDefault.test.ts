// `inkflow generate` without --model: the bundled tag-conditioned model (models/default/t2i), announced on
// stderr, at its own 128×128 default size, through the same workflow nodes as any checkpoint.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeImage, readPngText } from '../../imaging/image.ts';
import { defaultTextToImagePath } from '../../models/defaultTextToImage.ts';
import { generateCommand } from './generate.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-cli-default-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('inkflow generate with no --model', () => {
  it('uses the bundled text-to-image model and says so', async () => {
    expect(existsSync(join(defaultTextToImagePath(), 'model_index.json')), `${defaultTextToImagePath()} (the bundled model) is missing`).toBe(true);
    const out = join(dir, 'girl.png');
    const said: string[] = [];
    const orig = console.error;
    console.error = (m: string) => said.push(String(m));
    try {
      expect(await generateCommand.run(['--prompt', 'red hair, blue shirt, green pants, arms up', '--seed', '3', '--steps', '4', '-o', out])).toBe(0);
    } finally {
      console.error = orig;
    }
    expect(said.join('\n')).toContain(`using inkflow's bundled default model ${defaultTextToImagePath()}`);
    const png = readFileSync(out);
    const img = await decodeImage(png, 3);
    expect([img.width, img.height]).toEqual([128, 128]);
    expect(JSON.parse(readPngText(png).inkflow)).toMatchObject({ model: defaultTextToImagePath(), width: 128, height: 128, steps: 4 });
  }, 120_000);
});
