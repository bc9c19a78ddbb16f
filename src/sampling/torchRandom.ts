// Bit-exact reproduction of PyTorch's CPU generator (torch 1.13 CPUGeneratorImpl), so that
// `createTorchGenerator(seed).randn(shape)` equals `torch.manual_seed(seed); torch.randn(shape)`.
// This is what makes ComfyUI / diffusers seeds reproduce the same images.
//
// Facts reproduced (aten/src/ATen/core/MT19937RNGEngine.h, TransformationHelper.h,
// DistributionsHelper.h, native/cpu/DistributionTemplates.h):
// - mt19937 seeded with the low 32 bits of the 64-bit seed (standard init_genrand).
// - random() is one 32-bit draw; random64() is two draws, the first one being the high word.
// - uniform float:  (random()   & (2^24 − 1)) · 2^−24, in float32.
//   uniform double: (random64() & (2^53 − 1)) · 2^−53.
// - randn with numel < 16 (or float64 with numel < 16): scalar Box–Muller in double from two double
//   uniforms; r = sqrt(−2·log(1 − u2)), θ = 2π·u1; returns r·cos θ and caches r·sin θ in the
//   generator for the next scalar draw (the cache survives across calls, manual_seed clears it).
// - randn with numel ≥ 16 (normal_fill): first numel float uniforms, then Box–Muller on blocks of 16
//   (u1 = 1 − data[j], u2 = data[j+8] → data[j] = r·cos θ, data[j+8] = r·sin θ), computed in the
//   tensor's dtype; if numel % 16 ≠ 0, 16 fresh uniforms overwrite the last 16 slots and that block
//   is transformed again.

import { cosCR, logCR, sinCR } from './torchRandomLibm.ts';

const N = 624;
const M = 397;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;
const MATRIX_A = 0x9908b0df;
const TWO_PI = 2 * Math.PI;

export interface TorchGenerator {
  /** The seed as torch reports it from `initial_seed()` (full 64-bit value). */
  readonly initialSeed: bigint;
  /** `torch.randn(shape)` float32. */
  randn(shape: readonly number[]): Float32Array;
  /** `torch.rand(shape)` float32, in [0, 1). */
  rand(shape: readonly number[]): Float32Array;
  /** `torch.randn(shape, dtype=torch.float64)`. */
  randnF64(shape: readonly number[]): Float64Array;
  /** Raw 32-bit mt19937 output (advances the stream exactly like one `random()` in torch). */
  nextUint32(): number;
}

const UINT64_LIMIT = 1n << 64n;

/** Normalises a seed like `torch.manual_seed` does: negative values wrap to 2^64 + s. */
function normaliseSeed(seed: bigint | number): bigint {
  let s: bigint;
  if (typeof seed === 'number') {
    if (!Number.isSafeInteger(seed)) {
      throw new Error(`torch seed must be an integer (got ${seed}); pass a bigint for seeds beyond 2^53`);
    }
    s = BigInt(seed);
  } else if (typeof seed === 'bigint') {
    s = seed;
  } else {
    throw new Error(`torch seed must be a number or bigint (got ${typeof seed})`);
  }
  if (s < -(1n << 63n) || s >= UINT64_LIMIT) {
    throw new Error(`torch seed ${s} is out of range [-2^63, 2^64)`);
  }
  return s < 0n ? s + UINT64_LIMIT : s;
}

function numelOf(shape: readonly number[]): number {
  if (!Array.isArray(shape)) throw new Error('shape must be an array of non-negative integers');
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`invalid shape [${shape.join(', ')}]: dims must be non-negative integers`);
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new Error(`shape [${shape.join(', ')}] is too large`);
  return n;
}

export function createTorchGenerator(seed: bigint | number): TorchGenerator {
  const initialSeed = normaliseSeed(seed);
  const state = new Uint32Array(N);
  let index = N;
  // Cached second value of the scalar (double) Box–Muller pair; torch keeps it per generator.
  let nextDoubleNormal: number | null = null;

  state[0] = Number(initialSeed & 0xffffffffn);
  for (let j = 1; j < N; j++) {
    const prev = state[j - 1] ^ (state[j - 1] >>> 30);
    // 1812433253 · prev + j mod 2^32, without losing bits to float64 rounding.
    state[j] = (Math.imul(1812433253, prev) + j) >>> 0;
  }

  function twist(): void {
    for (let k = 0; k < N; k++) {
      const y = (state[k] & UPPER_MASK) | (state[(k + 1) % N] & LOWER_MASK);
      state[k] = state[(k + M) % N] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    index = 0;
  }

  function nextUint32(): number {
    if (index >= N) twist();
    let y = state[index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** float32 uniform in [0, 1): low 24 bits of one draw. */
  function uniformF32(): number {
    return (nextUint32() & 0xffffff) / 0x1000000;
  }

  /** float64 uniform in [0, 1): low 53 bits of (hi << 32 | lo). */
  function uniformF64(): number {
    const hi = nextUint32();
    const lo = nextUint32();
    return ((hi & 0x1fffff) * 0x100000000 + lo) / 2 ** 53;
  }

  /** torch's scalar `normal_distribution<double>` (mean 0, std 1) with its one-value cache. */
  function scalarNormal(): number {
    if (nextDoubleNormal !== null) {
      const v = nextDoubleNormal;
      nextDoubleNormal = null;
      return v;
    }
    const u1 = uniformF64();
    const u2 = uniformF64();
    const r = Math.sqrt(-2 * logCR(1 - u2));
    const theta = TWO_PI * u1;
    nextDoubleNormal = r * sinCR(theta);
    return r * cosCR(theta);
  }

  // Box–Muller on 16 consecutive uniforms in float32. torch's x86 build takes the AVX2 branch
  // (normal_fill_16_AVX2), which uses the cephes-style log/sincos of avx_mathfun, not libm, and a
  // float32 θ = float(2π)·u2; the result is then radius·cos/sin (fmadd with std 1, mean 0 is exact).
  function boxMuller16F32(data: Float32Array, o: number): void {
    for (let j = 0; j < 8; j++) {
      const u1 = Math.fround(1 - data[o + j]);
      const u2 = data[o + j + 8];
      const radius = Math.fround(Math.sqrt(Math.fround(-2 * avxLogF32(u1))));
      const theta = Math.fround(TWO_PI_F32 * u2);
      avxSinCosF32(theta, sinCos);
      data[o + j] = Math.fround(radius * sinCos[1]);
      data[o + j + 8] = Math.fround(radius * sinCos[0]);
    }
  }

  // float64 blocks use plain libm (glibc, correctly rounded) in double.
  function boxMuller16F64(data: Float64Array, o: number): void {
    for (let j = 0; j < 8; j++) {
      const u1 = 1 - data[o + j];
      const u2 = data[o + j + 8];
      const radius = Math.sqrt(-2 * logCR(u1));
      const theta = TWO_PI * u2;
      data[o + j] = radius * cosCR(theta);
      data[o + j + 8] = radius * sinCR(theta);
    }
  }

  function normalFill<T extends Float32Array | Float64Array>(out: T, uniform: () => number, block: (d: T, o: number) => void): T {
    const n = out.length;
    for (let i = 0; i < n; i++) out[i] = uniform();
    for (let i = 0; i + 16 <= n; i += 16) block(out, i);
    if (n % 16 !== 0) {
      const o = n - 16;
      for (let i = 0; i < 16; i++) out[o + i] = uniform();
      block(out, o);
    }
    return out;
  }

  return {
    initialSeed,
    nextUint32,
    randn(shape) {
      const n = numelOf(shape);
      if (n >= 16) return normalFill(new Float32Array(n), uniformF32, boxMuller16F32);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = scalarNormal();
      return out;
    },
    randnF64(shape) {
      const n = numelOf(shape);
      if (n >= 16) return normalFill(new Float64Array(n), uniformF64, boxMuller16F64);
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = scalarNormal();
      return out;
    },
    rand(shape) {
      const n = numelOf(shape);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = uniformF32();
      return out;
    },
  };
}

// ---- float32 emulation of avx_mathfun's log256_ps / sincos256_ps (cephes polynomials) ----
// Every intermediate is rounded to float32 exactly where the SIMD code rounds, so the bits match.

const f = Math.fround;
const TWO_PI_F32 = f(2 * Math.PI);
const f32View = new Float32Array(1);
const u32View = new Uint32Array(f32View.buffer);
const sinCos = new Float32Array(2);

/**
 * Fused multiply-add a·b + c of float32 values with one float32 rounding. GCC contracts the SIMD
 * mul/add pairs of avx_mathfun into vfmadd (torch is built with -mfma), so the emulation must too.
 * a·b is exact in double; s + err is the exact sum; only an exact tie at a float32 midpoint needs err.
 */
function fmaF32(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const bp = s - c;
  const err = (p - bp) + (c - (s - bp));
  const r = f(s);
  if (err === 0 || r === s) return r;
  const d = s - r;
  const other = r + 2 * d;
  if (f(other) !== other) return r; // s is not a midpoint: rounding s is already correct
  return (err > 0) === (d > 0) ? other : r;
}

const LOG_P = [
  7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
  -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
].map(f);
const LOG_Q1 = f(-2.12194440e-4);
const LOG_Q2 = f(0.693359375);
const SQRTHF = f(0.707106781186547524);

/** log(x) for x in (0, 1], as computed by avx_mathfun's log256_ps. */
function avxLogF32(x: number): number {
  if (!(x > 0)) return NaN;
  f32View[0] = Math.max(x, 1.1754943508222875e-38); // cut off denormals like the SIMD code
  const bits = u32View[0];
  let e = f(((bits >>> 23) - 0x7f) + 1);
  u32View[0] = (bits & ~0x7f800000) | 0x3f000000; // mantissa in [0.5, 1)
  let m = f32View[0];
  if (m < SQRTHF) {
    e = f(e - 1);
    m = f(f(m - 1) + m);
  } else {
    m = f(m - 1);
  }
  const z = f(m * m);
  let y = LOG_P[0];
  for (let k = 1; k < LOG_P.length; k++) y = fmaF32(y, m, LOG_P[k]);
  y = f(y * m);
  y = fmaF32(y, z, f(e * LOG_Q1));
  y = f(y - f(z * 0.5));
  return fmaF32(e, LOG_Q2, f(m + y));
}

const FOPI = f(1.27323954473516);
const DP1 = f(-0.78515625);
const DP2 = f(-2.4187564849853515625e-4);
const DP3 = f(-3.77489497744594108e-8);
const SIN_P = [-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1].map(f);
const COS_P = [2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2].map(f);

/** sin and cos of a float32 angle, as computed by avx_mathfun's sincos256_ps; out = [sin, cos]. */
function avxSinCosF32(angle: number, out: Float32Array): void {
  const negative = angle < 0 || Object.is(angle, -0);
  let x = Math.abs(angle);
  let j = Math.trunc(f(x * FOPI)) | 0;
  j = (j + 1) & ~1;
  const y = f(j);
  const sinSignFlip = ((j & 4) !== 0) !== negative;
  const usePolySinForSin = (j & 2) === 0;
  const cosNegative = ((~(j - 2)) & 4) !== 0;
  x = fmaF32(y, DP3, fmaF32(y, DP2, fmaF32(y, DP1, x)));
  const z = f(x * x);
  let c = fmaF32(COS_P[0], z, COS_P[1]);
  c = fmaF32(c, z, COS_P[2]);
  c = fmaF32(f(c * z), z, -f(z * 0.5));
  c = f(c + 1);
  let s = fmaF32(SIN_P[0], z, SIN_P[1]);
  s = fmaF32(s, z, SIN_P[2]);
  s = fmaF32(f(s * z), x, x);
  const sinVal = usePolySinForSin ? s : c;
  const cosVal = usePolySinForSin ? c : s;
  out[0] = sinSignFlip ? -sinVal : sinVal;
  out[1] = cosNegative ? -cosVal : cosVal;
}
