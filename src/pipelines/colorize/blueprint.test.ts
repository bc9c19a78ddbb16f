// Blueprint preparation: the cv2-exact training recipe against the golden files, line-art polarity, background
// clearing with the border flood fill and with an ONNX segmentation model (a stand-in built with our own IR:
// "foreground = red channel > 0.5", in both the probability and the logit output style anime-seg exports use).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goldenRoot } from '../../../test/golden/io.ts';
import { createGraph } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import { emitOnnx } from '../../graph/emitOnnx.ts';
import { memoryWeights } from '../../graph/weights.ts';
import { createImage, decodeImage, type Image } from '../../imaging/image.ts';
import { blueprintHasLines, foregroundMask, prepareBlueprint } from './blueprint.ts';
import { letterbox, loadSegmentationModel, SegmentationError, type SegmentationModel } from './segmentation.ts';

const sdroDir = join(goldenRoot, 'sdro_pipeline');

function fill(img: Image, x0: number, y0: number, x1: number, y1: number, rgb: readonly number[]): void {
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) for (let c = 0; c < 3; c++) img.data[(y * img.width + x) * 3 + c] = rgb[c];
}

/** Pixels above `level` (default: lines, > 127) inside / outside a rectangle. */
function linesOutside(bp: Image, x0: number, y0: number, x1: number, y1: number, level = 127): { inside: number; outside: number } {
  let inside = 0;
  let outside = 0;
  for (let y = 0; y < bp.height; y++) {
    for (let x = 0; x < bp.width; x++) {
      if (bp.data[(y * bp.width + x) * 3] <= level) continue;
      if (x >= x0 && x < x1 && y >= y0 && y < y1) inside++;
      else outside++;
    }
  }
  return { inside, outside };
}

/** A red square (the "character") on a blue background sprinkled with white dots. */
function redOnNoisyBlue(w: number, h: number): Image {
  const img = createImage(w, h, 3);
  fill(img, 0, 0, w, h, [0, 0, 255]);
  for (let y = 3; y < h; y += 7) for (let x = 2; x < w; x += 9) fill(img, x, y, x + 1, y + 1, [255, 255, 255]);
  fill(img, 12, 10, 28, 26, [255, 0, 0]);
  return img;
}

describe('prepareBlueprint', () => {
  it('colour image → bit-exact SDRO training blueprint (golden blueprint.png)', async () => {
    const src = await decodeImage(join(sdroDir, 'blueprint_source.png'), 3);
    const want = await decodeImage(join(sdroDir, 'blueprint.png'), 3);
    const { blueprint, warnings } = await prepareBlueprint(src, { source: 'colour' });
    expect(Buffer.compare(Buffer.from(blueprint.data), Buffer.from(want.data))).toBe(0);
    expect(warnings).toEqual([]);
  });

  it('line art of either polarity → white lines on black', async () => {
    const dark = createImage(32, 32, 3, 255);
    fill(dark, 5, 5, 27, 6, [0, 0, 0]);
    const a = (await prepareBlueprint(dark)).blueprint;
    const light = { ...dark, data: dark.data.map((v) => 255 - v) };
    const b = (await prepareBlueprint(light)).blueprint;
    expect(a.data[(5 * 32 + 10) * 3]).toBe(255);
    expect(a.data[(20 * 32 + 10) * 3]).toBe(0);
    expect(Buffer.compare(Buffer.from(a.data), Buffer.from(b.data))).toBe(0);
  });

  it('border flood fill clears paper marks outside a closed outline (background to white before line extraction)', async () => {
    const art = createImage(48, 48, 3, 255);
    // closed square outline with a 1-px gap, and a grey smudge outside it
    fill(art, 10, 10, 38, 11, [0, 0, 0]);
    fill(art, 10, 37, 38, 38, [0, 0, 0]);
    fill(art, 10, 10, 11, 38, [0, 0, 0]);
    fill(art, 37, 10, 38, 38, [0, 0, 0]);
    fill(art, 37, 20, 38, 21, [255, 255, 255]);
    // light smudges (not lines) outside and inside; dark strokes count as lines and stay foreground
    fill(art, 2, 2, 6, 6, [200, 200, 200]);
    fill(art, 20, 20, 24, 24, [200, 200, 200]); // inside: kept
    const plain = (await prepareBlueprint(art)).blueprint;
    const seg = await prepareBlueprint(art, { segment: 'border' });
    expect(linesOutside(plain, 7, 7, 41, 41, 0).outside).toBe(16);
    expect(linesOutside(seg.blueprint, 7, 7, 41, 41, 0).outside).toBe(0);
    expect(seg.blueprint.data[(22 * 48 + 22) * 3]).toBe(plain.data[(22 * 48 + 22) * 3]);
    expect(seg.mask!.data[22 * 48 + 22]).toBe(1);
    expect(seg.mask!.data[3 * 48 + 3]).toBe(0);
  });

  it('empty line art → all-black blueprint with a warning; nothing segmented → background kept, with a warning', async () => {
    const blank = createImage(40, 24, 3, 255);
    const res = await prepareBlueprint(blank, { segment: 'border' });
    expect(blueprintHasLines(res.blueprint)).toBe(false);
    expect(res.warnings.join(' ')).toMatch(/no foreground/);
    expect(res.warnings.join(' ')).toMatch(/no lines/);
  });

  it('rejects non-images and unknown sources clearly', async () => {
    await expect(prepareBlueprint({ width: 4, height: 4, channels: 3, data: new Uint8Array(3) })).rejects.toThrow(/expected 4×4×3/);
    await expect(prepareBlueprint(createImage(8, 8, 3), { source: 'photo' as never })).rejects.toThrow(/source must be/);
  });
});

describe('ONNX segmentation model', () => {
  let tmp: string;
  const S = 32;

  /** Stand-in anime-seg: 1×3×S×S → 1×1×S×S, foreground = red > 0.5 (probabilities, or logits). */
  function writeModel(name: string, opts: { logits?: boolean; channels?: number } = {}): string {
    const g = createGraph('seg');
    const x = g.input('img', 'f32', [1, opts.channels ?? 3, S, S]);
    const logit = op.mul(op.sub(op.slice(x, [1], [0], [1]), 0.5), 40);
    g.output('mask', opts.logits ? logit : op.sigmoid(logit));
    const path = join(tmp, name);
    writeFileSync(path, emitOnnx(g, memoryWeights({})));
    return path;
  }

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'inkflow-seg-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('letterboxes non-square images and maps the mask back to the image', async () => {
    expect(letterbox(40, 24, 32)).toEqual({ w: 32, h: 19, left: 0, top: 6 });
    const model = await loadSegmentationModel(writeModel('seg.onnx'));
    expect(model.size).toBe(S);
    const img = createImage(40, 24, 3);
    fill(img, 10, 4, 30, 20, [255, 0, 0]);
    const mask = await model.segment(img);
    expect([mask.width, mask.height]).toEqual([40, 24]);
    expect(mask.data[12 * 40 + 20]).toBeGreaterThan(0.95);
    expect(mask.data[2 * 40 + 2]).toBeLessThan(0.05);
    expect(mask.data[12 * 40 + 37]).toBeLessThan(0.05);
    await model.release();
  });

  for (const logits of [false, true]) {
    it(`clears the background before line extraction (${logits ? 'logit' : 'probability'} output)`, async () => {
      const model: SegmentationModel = await loadSegmentationModel(writeModel(`seg-${logits}.onnx`, { logits }));
      const img = redOnNoisyBlue(S, S);
      const plain = await prepareBlueprint(img, { source: 'colour' });
      const seg = await prepareBlueprint(img, { source: 'colour', segment: model });
      // Dots in the background make lines without segmentation, none with it; the character's edge stays.
      expect(linesOutside(plain.blueprint, 10, 8, 30, 28).outside).toBeGreaterThan(10);
      expect(linesOutside(seg.blueprint, 10, 8, 30, 28).outside).toBe(0);
      expect(linesOutside(seg.blueprint, 10, 8, 30, 28).inside).toBeGreaterThan(20);
      const mask = await foregroundMask(img, 'colour', model);
      expect(mask.data[18 * S + 20]).toBeGreaterThan(0.95);
      await model.release();
    });
  }

  it('refuses files that are not segmentation models', async () => {
    await expect(loadSegmentationModel(join(tmp, 'nope.onnx'))).rejects.toThrow(/does not exist/);
    const junk = join(tmp, 'junk.onnx');
    writeFileSync(junk, 'not an onnx model');
    await expect(loadSegmentationModel(junk)).rejects.toBeInstanceOf(SegmentationError);
    await expect(loadSegmentationModel(writeModel('gray.onnx', { channels: 1 }))).rejects.toThrow(/expected an input of shape \[1,3,S,S\]/);
  });
});
