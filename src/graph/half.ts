// IEEE half-precision (float16) ↔ float32 conversion, exact and round-to-nearest-even. It lives in
// the graph layer because the emitter stores f16 weights and the interpreter reads f16 constants;
// weights/dtype.ts re-exports it for file formats.
// Shared scratch for bit casts of single values.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** float32 → float32 bit pattern. */
export function f32ToBits(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0];
}

/** float32 bit pattern → float32 value (NaN payloads are not observable in JS numbers). */
export function bitsToF32(bits: number): number {
  scratchU32[0] = bits >>> 0;
  return scratchF32[0];
}

/** Bit pattern of the float32 with the value of the given half (float16) bit pattern. */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf, NaN (payload kept)
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0; // 112 = 127 − 15
  if (mant === 0) return sign >>> 0; // ±0
  // Subnormal half: value = mant·2^−24. Normalise so the leading 1 becomes the implicit bit.
  let e = 113; // exponent field of 2^−14, the smallest normal half
  while ((mant & 0x400) === 0) { mant <<= 1; e--; }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

let f16Table: Float32Array | undefined;

/** 65536-entry lookup: half bit pattern → float32. Built once (256 KB), makes array decode a gather. */
export function halfTable(): Float32Array {
  if (!f16Table) {
    const bits = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) bits[h] = f16BitsToF32Bits(h);
    f16Table = new Float32Array(bits.buffer);
  }
  return f16Table;
}

/** Half (float16) bit pattern → number. */
export function f16BitsToF32(h: number): number {
  return bitsToF32(f16BitsToF32Bits(h & 0xffff));
}

/** number → half (float16) bit pattern, rounded to nearest with ties to even; overflow gives ±inf. */
export function f32ToF16Bits(x: number): number {
  return f32BitsToF16Bits(f32ToBits(x));
}

export function f32BitsToF16Bits(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13); // inf / quiet NaN
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00; // ≥ 2^16: beyond the largest half even after rounding
  if (e <= 0) {
    // Result is subnormal (or zero): value / 2^−24 = (1.mant)·2^(e+9) ⇒ shift the 24-bit significand.
    if (e < -10) return sign; // < 2^−25: rounds to zero (2^−25 itself is a tie → even → 0, covered below)
    const m = mant | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) === 1)) half++;
    return sign | half; // a carry into bit 10 correctly yields the smallest normal
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++; // carry may reach 0x7c00 = inf: correct
  return sign | half;
}

/** float32 values → float16 bit patterns (round to nearest even). */
export function f32ToF16Array(src: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(src.length);
  if (src instanceof Float32Array) {
    const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
    for (let i = 0; i < out.length; i++) out[i] = f32BitsToF16Bits(bits[i]);
  } else {
    for (let i = 0; i < out.length; i++) out[i] = f32ToF16Bits(src[i]);
  }
  return out;
}

/** float16 bit patterns → float32. */
export function f16ToF32Array(src: Uint16Array): Float32Array {
  const t = halfTable();
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = t[src[i]];
  return out;
}

