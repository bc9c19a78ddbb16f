/**
 * Element types of safetensors files and the conversions between them and float32.
 *
 * float16 and bfloat16 are storage formats (ORT computes in float32), so we need exact decoding
 * (subnormals, ±inf, NaN) and encoding that rounds to nearest, ties to even, as numpy/torch do.
 * float8 (E4M3FN, E5M2) is decoded only. All multi-byte data is little-endian, as in the files;
 * the typed-array fast paths assume a little-endian host (checked once at load).
 */
import { endianness } from 'node:os';
import { bitsToF32, f16BitsToF32, f16ToF32Array, f32ToBits, f32ToF16Array, f32ToF16Bits, halfTable } from '../graph/half.ts';

export { bitsToF32, f16BitsToF32, f16ToF32Array, f32ToBits, f32ToF16Array, f32ToF16Bits };

if (endianness() !== 'LE') throw new Error('inkflow weights: big-endian hosts are not supported');

/** The dtype names of the safetensors header. */
export type StDType =
  | 'BOOL' | 'U8' | 'I8' | 'F8_E4M3' | 'F8_E5M2'
  | 'I16' | 'U16' | 'F16' | 'BF16'
  | 'I32' | 'U32' | 'F32'
  | 'I64' | 'U64' | 'F64';

/** Bytes per element. */
export const DTYPE_SIZE: Readonly<Record<StDType, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
};

export const ST_DTYPES = Object.keys(DTYPE_SIZE) as StDType[];

export function isStDType(x: unknown): x is StDType {
  return typeof x === 'string' && Object.hasOwn(DTYPE_SIZE, x);
}

/** bfloat16 bit pattern → number. */
export function bf16BitsToF32(b: number): number {
  return bitsToF32((b & 0xffff) << 16);
}

/** number → bfloat16 bit pattern, rounded to nearest with ties to even; NaN stays a (quiet) NaN. */
export function f32ToBf16Bits(x: number): number {
  return f32BitsToBf16Bits(f32ToBits(x));
}

function f32BitsToBf16Bits(u: number): number {
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff; // NaN: keep sign, force quiet
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff; // overflow rounds to inf, as it should
}

/** Decodes a float8 byte with the given exponent/mantissa widths and bias. */
function f8ToF32(byte: number, expBits: number, mantBits: number, bias: number, ieeeSpecials: boolean): number {
  const sign = byte & 0x80 ? -1 : 1;
  const exp = (byte >>> mantBits) & ((1 << expBits) - 1);
  const mant = byte & ((1 << mantBits) - 1);
  const expMax = (1 << expBits) - 1;
  if (ieeeSpecials && exp === expMax) return mant === 0 ? sign * Infinity : NaN;
  // E4M3FN (torch.float8_e4m3fn): no infinities; only S.1111.111 is NaN.
  if (!ieeeSpecials && exp === expMax && mant === (1 << mantBits) - 1) return NaN;
  if (exp === 0) return sign * mant * 2 ** (1 - bias - mantBits);
  return sign * (1 + mant / (1 << mantBits)) * 2 ** (exp - bias);
}

let e4m3Table: Float32Array | undefined;
let e5m2Table: Float32Array | undefined;

function f8Table(dtype: 'F8_E4M3' | 'F8_E5M2'): Float32Array {
  if (dtype === 'F8_E4M3') {
    if (!e4m3Table) e4m3Table = Float32Array.from({ length: 256 }, (_, b) => f8ToF32(b, 4, 3, 7, false));
    return e4m3Table;
  }
  if (!e5m2Table) e5m2Table = Float32Array.from({ length: 256 }, (_, b) => f8ToF32(b, 5, 2, 15, true));
  return e5m2Table;
}

/** An aligned copy of bytes, so typed-array views of any element size can be taken. */
function aligned(bytes: Uint8Array, size: number): ArrayBuffer {
  if (bytes.byteOffset % size === 0 && bytes.buffer instanceof ArrayBuffer) return bytes.buffer;
  return bytes.slice().buffer;
}

/**
 * Converts little-endian element bytes of `dtype` to float32 (a new array). int64/uint64 values
 * beyond 2^53 lose precision (they are rounded twice: to float64, then to float32).
 */
export function bytesToF32(dtype: StDType, bytes: Uint8Array): Float32Array {
  const size = DTYPE_SIZE[dtype];
  if (bytes.byteLength % size !== 0) {
    throw new RangeError(`${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  }
  const n = bytes.byteLength / size;
  const buf = aligned(bytes, size);
  const off = buf === bytes.buffer ? bytes.byteOffset : 0;
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F32': out.set(new Float32Array(buf, off, n)); break;
    case 'F64': out.set(new Float64Array(buf, off, n)); break;
    case 'F16': {
      const t = halfTable();
      const src = new Uint16Array(buf, off, n);
      for (let i = 0; i < n; i++) out[i] = t[src[i]];
      break;
    }
    case 'BF16': {
      const src = new Uint16Array(buf, off, n);
      const dst = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) dst[i] = src[i] << 16;
      break;
    }
    case 'F8_E4M3': case 'F8_E5M2': {
      const t = f8Table(dtype);
      for (let i = 0; i < n; i++) out[i] = t[bytes[i]];
      break;
    }
    case 'BOOL': for (let i = 0; i < n; i++) out[i] = bytes[i] !== 0 ? 1 : 0; break;
    case 'U8': out.set(bytes); break;
    case 'I8': out.set(new Int8Array(buf, off, n)); break;
    case 'I16': out.set(new Int16Array(buf, off, n)); break;
    case 'U16': out.set(new Uint16Array(buf, off, n)); break;
    case 'I32': out.set(new Int32Array(buf, off, n)); break;
    case 'U32': out.set(new Uint32Array(buf, off, n)); break;
    case 'I64': case 'U64': {
      // lo + hi·2^32 in float64: exact below 2^53, faster than going through BigInt.
      const lo = new Uint32Array(buf, off, 2 * n);
      const hiSigned = dtype === 'I64' ? new Int32Array(buf, off, 2 * n) : lo;
      for (let i = 0; i < n; i++) out[i] = lo[2 * i] + hiSigned[2 * i + 1] * 4294967296;
      break;
    }
  }
  return out;
}

/** float32 values → bfloat16 bit patterns (round to nearest even). */
export function f32ToBf16Array(src: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(src.length);
  if (src instanceof Float32Array) {
    const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
    for (let i = 0; i < out.length; i++) out[i] = f32BitsToBf16Bits(bits[i]);
  } else {
    for (let i = 0; i < out.length; i++) out[i] = f32ToBf16Bits(src[i]);
  }
  return out;
}

/** bfloat16 bit patterns → float32. */
export function bf16ToF32Array(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const dst = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) dst[i] = src[i] << 16;
  return out;
}
