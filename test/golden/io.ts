// Helpers shared by golden handlers: where the golden folder is, raw .bin readers, comparisons.
import { readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';

/** The golden root: INKFLOW_GOLDEN, or ../shared/golden from the project root. */
export const goldenRoot = resolve(process.env.INKFLOW_GOLDEN ?? join(import.meta.dirname, '../../../shared/golden'));

export type BinDType = 'float32' | 'float64' | 'int64' | 'int32' | 'uint8';

/** Reads a raw little-endian C-order .bin file as the given dtype (int64 becomes a BigInt64Array). */
export function readBin(path: string, dtype: BinDType): Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array {
  const buf = readFileSync(path);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  switch (dtype) {
    case 'float32': return new Float32Array(ab);
    case 'float64': return new Float64Array(ab);
    case 'int64': return new BigInt64Array(ab);
    case 'int32': return new Int32Array(ab);
    case 'uint8': return new Uint8Array(ab);
  }
}

export function readF32(path: string): Float32Array {
  return readBin(path, 'float32') as Float32Array;
}

export function readJson<T = any>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export function fileExists(path: string): boolean {
  return existsSync(path);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** Asserts max|actual − expected| ≤ tol and logs the error, so the numbers appear in test output. */
export function expectClose(label: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): number {
  const err = maxAbsDiff(actual, expected);
  console.log(`[golden] ${label}: max abs err ${err.toExponential(3)} (tol ${tol})`);
  expect(err, `${label}: max abs err ${err} > ${tol}`).toBeLessThanOrEqual(tol);
  return err;
}
