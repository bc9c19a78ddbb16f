import { describe, it, expect } from 'vitest';
import {
  bf16BitsToF32, bf16ToF32Array, bitsToF32, bytesToF32, f16BitsToF32, f16ToF32Array, f32ToBf16Array,
  f32ToBf16Bits, f32ToBits, f32ToF16Array, f32ToF16Bits,
} from './dtype.ts';

/** The float32 neighbours of a (positive, finite) float32. */
const nextUp = (x: number) => bitsToF32(f32ToBits(x) + 1);
const nextDown = (x: number) => bitsToF32(f32ToBits(x) - 1);
const hex = (n: number) => '0x' + n.toString(16).padStart(4, '0');

describe('float16', () => {
  it('decodes known values incl. subnormals, inf, nan', () => {
    expect(f16BitsToF32(0x3c00)).toBe(1);
    expect(f16BitsToF32(0xc000)).toBe(-2);
    expect(f16BitsToF32(0x7bff)).toBe(65504);
    expect(f16BitsToF32(0x0400)).toBe(2 ** -14); // smallest normal
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24); // smallest subnormal
    expect(f16BitsToF32(0x03ff)).toBe(1023 * 2 ** -24); // largest subnormal
    expect(f16BitsToF32(0x8001)).toBe(-(2 ** -24));
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
    expect(f16BitsToF32(0x7c00)).toBe(Infinity);
    expect(f16BitsToF32(0xfc00)).toBe(-Infinity);
    expect(f16BitsToF32(0x7e00)).toBeNaN();
    expect(f16BitsToF32(0x7c01)).toBeNaN();
    expect(f16BitsToF32(0x3555)).toBeCloseTo(1 / 3, 3);
  });

  it('encodes known values', () => {
    const cases: [number, number][] = [
      [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [0.1, 0x2e66], [1 / 3, 0x3555], [2 ** -24, 0x0001],
      [2 ** -14, 0x0400], [0, 0x0000], [-0, 0x8000], [Infinity, 0x7c00], [-Infinity, 0xfc00],
      [65519.99, 0x7bff], [65520, 0x7c00], [1e6, 0x7c00], [-1e6, 0xfc00], // 65520 is the tie → inf
      [2 ** -25, 0x0000], [nextUp(2 ** -25), 0x0001], [1e-10, 0x0000], [-1e-10, 0x8000],
      [3 * 2 ** -25, 0x0002], // tie between subnormals 1 and 2 → even (2)
      [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], // ties between normals → even
    ];
    for (const [x, bits] of cases) expect(hex(f32ToF16Bits(x)), `f16(${x})`).toBe(hex(bits));
    expect(f32ToF16Bits(NaN) & 0x7c00).toBe(0x7c00);
    expect(f32ToF16Bits(NaN) & 0x3ff).not.toBe(0);
  });

  it('round-trips every non-NaN half exactly, and decodes arrays like the scalar path', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const decoded = f16ToF32Array(all);
    const reencoded = f32ToF16Array(decoded);
    let mismatches = 0;
    for (let h = 0; h < 65536; h++) {
      const isNaN16 = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (isNaN16) { if (!Number.isNaN(decoded[h])) mismatches++; continue; }
      if (reencoded[h] !== h || !Object.is(decoded[h], Math.fround(f16BitsToF32(h)))) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it('rounds to nearest, ties to even, at every midpoint between adjacent halfs', () => {
    let bad = 0;
    for (let h = 0; h < 0x7bff; h++) { // positive finite halfs and their upper neighbour
      const a = f16BitsToF32(h), b = f16BitsToF32(h + 1);
      const mid = (a + b) / 2; // exact in float32 (11-bit significands)
      const even = h % 2 === 0 ? h : h + 1;
      if (f32ToF16Bits(mid) !== even) bad++;
      if (f32ToF16Bits(nextUp(mid)) !== h + 1) bad++;
      if (mid > 0 && f32ToF16Bits(nextDown(mid)) !== h) bad++;
      if (f32ToF16Bits(-mid) !== (even | 0x8000)) bad++;
    }
    expect(bad).toBe(0);
  });
});

describe('bfloat16', () => {
  it('encodes and decodes known values', () => {
    const cases: [number, number][] = [
      [1, 0x3f80], [-2, 0xc000], [0.1, 0x3dcd], [0, 0], [-0, 0x8000], [Infinity, 0x7f80], [-Infinity, 0xff80],
      [3.3895313892515355e38, 0x7f7f], [3.4e38, 0x7f80], // max bf16, and a value rounding past it → inf
      [1 + 2 ** -8, 0x3f80], [1 + 3 * 2 ** -8, 0x3f82], // ties → even
      [2 ** -133, 0x0001], // smallest bf16 subnormal
    ];
    for (const [x, bits] of cases) expect(hex(f32ToBf16Bits(x)), `bf16(${x})`).toBe(hex(bits));
    expect(bf16BitsToF32(0x3f80)).toBe(1);
    expect(bf16BitsToF32(0x0001)).toBe(2 ** -133);
    expect(bf16BitsToF32(0x7fc0)).toBeNaN();
    expect(f32ToBf16Bits(NaN) & 0x7fc0).toBe(0x7fc0);
    expect(bitsToF32(0x7f800001)).toBeNaN();
    expect(f32ToBf16Bits(bitsToF32(0x7f800001)) & 0x7f).not.toBe(0); // signalling NaN stays NaN, not inf
  });

  it('round-trips every non-NaN bf16 and rounds midpoints to even', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = f32ToBf16Array(bf16ToF32Array(all));
    let bad = 0;
    for (let b = 0; b < 65536; b++) {
      const isNaN16 = (b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0;
      if (!isNaN16 && back[b] !== b) bad++;
      if ((b & 0x7fff) < 0x7f80) { // finite: the f32 exactly halfway to the next bf16
        const mid = bitsToF32((b << 16) | 0x8000);
        const even = b % 2 === 0 ? b : b + 1;
        if (f32ToBf16Bits(mid) !== even) bad++;
      }
    }
    expect(bad).toBe(0);
  });
});

describe('bytesToF32', () => {
  const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

  it('converts every integer and float dtype', () => {
    expect([...bytesToF32('F64', bytesOf(new Float64Array([1.5, -1e300, 1e-50])))]).toEqual([1.5, -Infinity, 0]);
    expect([...bytesToF32('I64', bytesOf(new BigInt64Array([-1n, 2n ** 40n + 3n, -(2n ** 33n)])))]).toEqual([-1, Math.fround(2 ** 40 + 3), -(2 ** 33)]);
    expect([...bytesToF32('U64', bytesOf(new BigUint64Array([2n ** 63n, 7n])))]).toEqual([2 ** 63, 7]);
    expect([...bytesToF32('I32', bytesOf(new Int32Array([-5, 2 ** 31 - 1])))]).toEqual([-5, 2 ** 31]);
    expect([...bytesToF32('U32', bytesOf(new Uint32Array([4294967295])))]).toEqual([4294967296]);
    expect([...bytesToF32('I16', bytesOf(new Int16Array([-32768, 7])))]).toEqual([-32768, 7]);
    expect([...bytesToF32('U16', bytesOf(new Uint16Array([65535])))]).toEqual([65535]);
    expect([...bytesToF32('I8', new Uint8Array([0xff, 0x7f]))]).toEqual([-1, 127]);
    expect([...bytesToF32('U8', new Uint8Array([0xff, 0]))]).toEqual([255, 0]);
    expect([...bytesToF32('BOOL', new Uint8Array([0, 1, 2]))]).toEqual([0, 1, 1]);
    expect([...bytesToF32('F16', bytesOf(new Uint16Array([0x3c00, 0x0001])))]).toEqual([1, 2 ** -24]);
    expect([...bytesToF32('BF16', bytesOf(new Uint16Array([0x3f80, 0xc000])))]).toEqual([1, -2]);
  });

  it('decodes float8 E4M3FN and E5M2 special values', () => {
    // E4M3FN: bias 7, max 448, no inf, 0x7f NaN, min subnormal 2^-9.
    const e4 = bytesToF32('F8_E4M3', new Uint8Array([0x38, 0x7e, 0x7f, 0x01, 0x80 | 0x38, 0x08]));
    expect([...e4.slice(0, 2)]).toEqual([1, 448]);
    expect(e4[2]).toBeNaN();
    expect([...e4.slice(3)]).toEqual([2 ** -9, -1, 2 ** -6]);
    // E5M2: bias 15, 0x7c inf, 0x7b max 57344, min subnormal 2^-16.
    const e5 = bytesToF32('F8_E5M2', new Uint8Array([0x3c, 0x7c, 0x7b, 0x01, 0x7d]));
    expect([...e5.slice(0, 4)]).toEqual([1, Infinity, 57344, 2 ** -16]);
    expect(e5[4]).toBeNaN();
  });

  it('handles unaligned views and rejects partial elements', () => {
    const buf = new Uint8Array(9);
    buf.set(new Uint8Array(new Float64Array([2.5]).buffer), 1);
    expect([...bytesToF32('F64', buf.subarray(1))]).toEqual([2.5]);
    expect(() => bytesToF32('F32', new Uint8Array(6))).toThrow(/not a whole number of F32/);
  });
});
