import { describe, expect, it } from 'vitest';
import { createImage, type Image } from '../../imaging/image.ts';
import { clipImageProcessor, parseClipImageProcessorConfig, shortestEdgeSize } from './imageProcessor.ts';
import { pilResize } from './pilResize.ts';

function gradient(w: number, h: number, ch: 1 | 3): Image {
  const img = createImage(w, h, ch);
  for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 37 + (i >> 3) * 11) % 256;
  return img;
}

describe('pilResize', () => {
  it('halving with the box filter is the rounded 2×2 mean (Pillow fixed point rounds half up)', () => {
    const img = gradient(8, 6, 1);
    const out = pilResize(img, 4, 3, 'box');
    for (let y = 0; y < 3; y++) {
      for (let x = 0; x < 4; x++) {
        // Horizontal pass first (rounded to uint8), then vertical.
        const row = (yy: number) => Math.floor((img.data[yy * 8 + 2 * x] + img.data[yy * 8 + 2 * x + 1] + 1) / 2);
        expect(out.data[y * 4 + x]).toBe(Math.floor((row(2 * y) + row(2 * y + 1) + 1) / 2));
      }
    }
  });
  it('keeps a constant image constant, skips unchanged axes and copies at the same size', () => {
    const flat = createImage(50, 70, 3, 200);
    const out = pilResize(flat, 32, 44);
    expect(out.data.every((v) => v === 200)).toBe(true);
    const img = gradient(10, 7, 3);
    const same = pilResize(img, 10, 7);
    expect(same.data).toEqual(img.data);
    expect(same.data).not.toBe(img.data);
    // Only the vertical pass runs: every column is resized independently.
    const tall = pilResize(img, 10, 14);
    expect(tall.width).toBe(10);
    expect(tall.height).toBe(14);
  });
  it('rejects RGBA and bad sizes', () => {
    expect(() => pilResize(createImage(4, 4, 4), 2, 2)).toThrow(/RGBA/);
    expect(() => pilResize(createImage(4, 4, 3), 0, 2)).toThrow(/invalid target size/);
  });
});

describe('CLIPImageProcessor', () => {
  it('sizes the shortest edge like transformers (long side truncated)', () => {
    expect(shortestEdgeSize(80, 60, 32)).toEqual({ width: 42, height: 32 });
    expect(shortestEdgeSize(50, 70, 32)).toEqual({ width: 32, height: 44 });
    expect(shortestEdgeSize(32, 90, 32)).toEqual({ width: 32, height: 90 });
  });
  it('crops centred with (size − crop) // 2 and normalises', () => {
    const cfg = parseClipImageProcessorConfig({ size: { shortest_edge: 4 }, crop_size: { height: 4, width: 4 }, image_mean: [0, 0, 0], image_std: [1, 1, 1] });
    const img = gradient(4, 7, 3);
    const px = clipImageProcessor(cfg)(img);
    expect(px.shape).toEqual([1, 3, 4, 4]);
    // Offset (7 − 4) // 2 = 1 row; value = u8 / 255 in float32.
    expect(px.data[0]).toBe(Math.fround(img.data[(1 * 4 + 0) * 3] / 255));
    expect(px.data[16 + 5]).toBe(Math.fround(img.data[(2 * 4 + 1) * 3 + 1] / 255));
  });
  it('converts grey to RGB, batches, and rejects unknown resample codes', () => {
    const cfg = parseClipImageProcessorConfig({ size: 8, crop_size: 8, image_mean: [0, 0, 0], image_std: [1, 1, 1] });
    const px = clipImageProcessor(cfg)([gradient(12, 8, 1), gradient(8, 8, 3)]);
    expect(px.shape).toEqual([2, 3, 8, 8]);
    expect(px.data[0]).toBe(px.data[64]); // grey replicated into R and G
    expect(() => parseClipImageProcessorConfig({ resample: 0 })).toThrow(/resample 0 is not supported/);
    expect(() => parseClipImageProcessorConfig({ image_mean: [1] })).toThrow(/image_mean/);
  });
});
