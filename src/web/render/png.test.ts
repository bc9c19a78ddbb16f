import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { asciiJson, encodePngFromBands, insertChunks, physChunk, readTextChunks, textChunk } from './png.ts';

async function* bandsOf(rgba: Uint8Array, width: number, rowsPerBand: number) {
  for (let y = 0; y * width * 4 < rgba.length; y += rowsPerBand) yield rgba.subarray(y * width * 4, Math.min(rgba.length, (y + rowsPerBand) * width * 4));
}

describe('png', () => {
  it('streams bands of rows into a PNG that decodes to the same pixels', async () => {
    const width = 37;
    const height = 53;
    const rgba = new Uint8Array(width * height * 4);
    for (let i = 0; i < width * height; i++) rgba.set([(i * 7) & 255, (i * 13) & 255, (i * 29) & 255, 255], i * 4);
    const png = await encodePngFromBands(width, height, bandsOf(rgba, width, 10), [physChunk(300)]);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([width, height, 3]);
    for (let i = 0; i < width * height; i++) expect([data[i * 3], data[i * 3 + 1], data[i * 3 + 2]]).toEqual([rgba[i * 4], rgba[i * 4 + 1], rgba[i * 4 + 2]]);
    expect((await sharp(png).metadata()).density).toBe(300);
  });

  it('refuses a band count that does not add up to the height', async () => {
    const rgba = new Uint8Array(4 * 4 * 4);
    await expect(encodePngFromBands(4, 5, bandsOf(rgba, 4, 2))).rejects.toThrow(/got 4 rows, expected 5/);
  });

  it('adds text chunks that survive a decode and hold non-Latin prompts as escaped JSON', async () => {
    const base = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#123456' } }).png().toBuffer();
    const prompt = { '3': { class_type: 'KSampler', inputs: { text: 'ねこ, red scarf' } } };
    const png = insertChunks(new Uint8Array(base), [textChunk('prompt', asciiJson(prompt)), physChunk(300)]);
    expect(JSON.parse(readTextChunks(png).prompt)).toEqual(prompt);
    const meta = await sharp(png).metadata();
    expect([meta.width, meta.density]).toEqual([4, 300]);
    expect(() => insertChunks(new Uint8Array([1, 2, 3]), [])).toThrow(/not a PNG/);
  });
});
