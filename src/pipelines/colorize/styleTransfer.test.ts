// Style transfer (the SDRO demo's second function) on the tiny golden components.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goldenRoot } from '../../../test/golden/io.ts';
import { createImage, decodeImage, type Image } from '../../imaging/image.ts';
import { loadSdroPipeline, type SdroPipeline } from './sdro.ts';
import { prepareBlueprint } from './blueprint.ts';
import { styleTransfer } from './styleTransfer.ts';

const dir = join(goldenRoot, 'sdro_pipeline');

describe('styleTransfer', () => {
  let pipe: SdroPipeline;
  let reference: Image;
  let target: Image;
  beforeAll(async () => {
    pipe = await loadSdroPipeline(dir, { cacheDir: false });
    reference = await decodeImage(join(dir, 'reference.png'), 3);
    target = await decodeImage(join(dir, 'blueprint_source.png'), 3);
  });
  afterAll(async () => {
    await pipe?.release();
  });

  it("colours the target's segmented line art with the segmented reference", async () => {
    const res = await styleTransfer(pipe, { reference, target, steps: 2, seed: 3 });
    const expected = await prepareBlueprint(target, { source: 'colour', segment: 'border' });
    expect(Buffer.compare(Buffer.from(res.blueprint.data), Buffer.from(expected.blueprint.data))).toBe(0);
    expect([res.image.width, res.image.height]).toEqual([target.width, target.height]);
    // Same as colouring by hand with the same inputs and seed.
    const direct = await pipe.colorize({ reference: res.reference, blueprint: res.blueprint, steps: 2, seed: 3 });
    expect(Buffer.compare(Buffer.from(direct.image.data), Buffer.from(res.image.data))).toBe(0);
  });

  it('without segmentation the blueprint is the plain threshold recipe', async () => {
    const res = await styleTransfer(pipe, { reference, target, steps: 1, seed: 0, segment: false });
    const want = await decodeImage(join(dir, 'blueprint.png'), 3);
    expect(Buffer.compare(Buffer.from(res.blueprint.data), Buffer.from(want.data))).toBe(0);
    expect(res.reference).toBe(reference);
  });

  it('a reference with no foreground is used whole, with a warning', async () => {
    const flat = createImage(40, 40, 3, 180);
    const res = await styleTransfer(pipe, { reference: flat, target, steps: 1, seed: 0 });
    expect(res.warnings.join(' ')).toMatch(/no foreground found in the reference/);
    expect(res.reference).toBe(flat);
  });

  it('rejects a non-image target clearly', async () => {
    await expect(styleTransfer(pipe, { reference, target: { width: 0 } as Image })).rejects.toThrow(/style transfer target/);
  });
});
