// Bounded image inputs: bytes (files, /dev/zero), pixels from the header before decoding (a small 1-bit
// PNG declaring 16384²), configurable by environment; and a seeded PNG/JPEG fuzz where every case must
// decode or fail with ImageError / ImageLimitError.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeImage, ImageError } from './image.ts';
import { imageLimits, ImageLimitError } from './limits.ts';
import { fuzzRandom, fuzzSeeds, lyingJpeg, lyingPng, mutate } from './imageInputFuzz.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-limits-'));
afterEach(() => {
  delete process.env.INKFLOW_MAX_IMAGE_PIXELS;
  delete process.env.INKFLOW_MAX_INPUT_BYTES;
});

describe('image input limits', () => {
  it('a ~115 KB 1-bit PNG declaring 16384² is refused from its header, before decoding', async () => {
    const png = lyingPng(16384, 16384);
    expect(png.length).toBeLessThan(200_000);
    const rss0 = process.memoryUsage().rss;
    await expect(decodeImage(png, 3, 'bomb.png')).rejects.toThrow(ImageLimitError);
    await expect(decodeImage(png, 3, 'bomb.png')).rejects.toThrow('bomb.png: image of 16384×16384 = 268,435,456 pixels is over the limit of 67,108,864 pixels');
    // Nothing near the 805 MB an RGB decode would need was allocated.
    expect(process.memoryUsage().rss - rss0).toBeLessThan(200 * 2 ** 20);
  });

  it('the pixel limit is configurable and applies to JPEG headers too', async () => {
    const { jpeg } = await fuzzSeeds();
    process.env.INKFLOW_MAX_IMAGE_PIXELS = '300';
    await expect(decodeImage(jpeg, 3, 'a.jpg')).rejects.toThrow(/24×16 = 384 pixels is over the limit of 300/);
    process.env.INKFLOW_MAX_IMAGE_PIXELS = '384';
    expect((await decodeImage(jpeg, 3, 'a.jpg')).width).toBe(24);
    process.env.INKFLOW_MAX_IMAGE_PIXELS = 'lots';
    expect(() => imageLimits()).toThrow(/INKFLOW_MAX_IMAGE_PIXELS=lots is not a positive integer/);
  });

  it('file inputs are read with the byte limit: /dev/zero, a folder, an oversized file', async () => {
    await expect(decodeImage('/dev/zero', 3)).rejects.toThrow(/\/dev\/zero: more than 268,435,456 bytes, over the input limit/);
    await expect(decodeImage(dir, 3)).rejects.toThrow(/it is a folder/);
    const f = join(dir, 'big.png');
    writeFileSync(f, lyingPng(64, 64));
    process.env.INKFLOW_MAX_INPUT_BYTES = '50';
    await expect(decodeImage(f, 3)).rejects.toThrow(/over the input limit/);
  });
});

describe('PNG / JPEG fuzz (seeded sample)', () => {
  it('every mutated or lying file decodes or fails with a clear image error', async () => {
    const seeds = await fuzzSeeds();
    const rand = fuzzRandom(20260613);
    const counts = { decoded: 0, clearError: 0 };
    const cases: [string, Buffer][] = [];
    for (let i = 0; i < 150; i++) cases.push([`png#${i}`, mutate(seeds.png, rand)]);
    for (let i = 0; i < 150; i++) cases.push([`jpeg#${i}`, mutate(seeds.jpeg, rand)]);
    for (const [w, h] of [[16384, 16384], [65535, 65535], [1, 65535], [0, 10], [2 ** 31, 2]] as const) {
      cases.push([`png ${w}×${h}`, lyingPng(w, h, Math.min(h, 4))]);
      if (w <= 65535) cases.push([`jpeg ${w}×${h}`, lyingJpeg(seeds.jpeg, w, h)]);
    }
    for (const [label, bytes] of cases) {
      try {
        const img = await decodeImage(bytes, 3, label);
        expect(img.data.length).toBe(img.width * img.height * 3);
        expect(img.width * img.height).toBeLessThanOrEqual(imageLimits().maxPixels);
        counts.decoded++;
      } catch (e) {
        if (!(e instanceof ImageError || e instanceof ImageLimitError)) throw new Error(`${label}: unclear failure ${(e as Error).name}: ${(e as Error).message}`);
        expect((e as Error).message.startsWith(label)).toBe(true);
        counts.clearError++;
      }
    }
    expect(counts.decoded + counts.clearError).toBe(cases.length);
    // Both outcomes occur: the mutations are neither all harmless nor all fatal.
    expect(counts.decoded).toBeGreaterThan(10);
    expect(counts.clearError).toBeGreaterThan(10);
  });
});
