// .npy inputs: round trip, the header forms NumPy writes, and clear errors for what is not supported.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy, readColorizeImage, readColorizeMask } from './colorizeDiffusionInputs.ts';

const tmp = mkdtempSync(join(tmpdir(), 'inkflow-npy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A v1.0 .npy with an arbitrary header text and body, as NumPy lays it out (header padded to 64 bytes). */
function npy(header: string, body: Buffer): Buffer {
  let h = header;
  h += ' '.repeat((64 - ((10 + h.length + 1) % 64)) % 64) + '\n';
  const head = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  head.writeUInt16LE(h.length, 8);
  return Buffer.concat([head, Buffer.from(h, 'latin1'), body]);
}

describe('.npy inputs', () => {
  it('round-trips float32 and reads float64, with a 64-byte aligned header', () => {
    const t = { shape: [1, 3, 2, 2], data: Float32Array.from({ length: 12 }, (_, i) => i / 7 - 0.5) };
    const buf = encodeNpy(t);
    expect((10 + buf.readUInt16LE(8)) % 64).toBe(0);
    expect(parseNpy(buf)).toEqual(t);
    const f64 = Buffer.alloc(16);
    f64.writeDoubleLE(0.1, 0);
    f64.writeDoubleLE(-2, 8);
    const r = parseNpy(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", f64));
    expect(r.shape).toEqual([2]);
    expect(Array.from(r.data)).toEqual([Math.fround(0.1), -2]);
  });

  it('refuses other dtypes, Fortran order, short bodies, NaN and non-.npy bytes', () => {
    const four = Buffer.alloc(16);
    expect(() => parseNpy(npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", four))).toThrow(/dtype <i8 is not supported/);
    expect(() => parseNpy(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", four))).toThrow(/Fortran-ordered/);
    expect(() => parseNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", four))).toThrow(/16 data bytes for shape \(3, 2\)/);
    const nan = Buffer.alloc(4);
    nan.writeFloatLE(Number.NaN, 0);
    expect(() => parseNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", nan))).toThrow(/NaN or infinite/);
    expect(() => parseNpy(Buffer.from('PNG not npy'))).toThrow(/not a \.npy file/);
  });

  it('images are [1,3,H,W] or [3,H,W]; masks [1,1,H,W], [1,H,W] or [H,W]', async () => {
    const img = join(tmp, 'ref.npy');
    writeFileSync(img, encodeNpy({ shape: [3, 2, 4], data: new Float32Array(24) }));
    const t = await readColorizeImage(img, 'reference');
    expect('shape' in t ? t.shape : undefined).toEqual([1, 3, 2, 4]);
    const bad = join(tmp, 'bad.npy');
    writeFileSync(bad, encodeNpy({ shape: [1, 1, 2, 4], data: new Float32Array(8) }));
    await expect(readColorizeImage(bad, 'reference')).rejects.toThrow(/must be \[1,3,H,W\] or \[3,H,W\]/);
    const mask = join(tmp, 'mask.npy');
    writeFileSync(mask, encodeNpy({ shape: [2, 4], data: new Float32Array(8).fill(0.25) }));
    expect(await readColorizeMask(mask, 'mask')).toEqual({ shape: [1, 1, 2, 4], data: new Float32Array(8).fill(0.25) });
    writeFileSync(bad, encodeNpy({ shape: [2, 1, 2, 4], data: new Float32Array(16) }));
    await expect(readColorizeMask(bad, 'mask')).rejects.toThrow(/must be \[1,1,H,W\], \[1,H,W\] or \[H,W\]/);
  });
});
