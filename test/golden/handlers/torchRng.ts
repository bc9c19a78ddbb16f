// Golden handler for rng/torch_rng.json: torch.manual_seed + randn/rand samples from torch's CPU
// generator. float32 samples are compared as uint32 bit patterns (bit-exact); float64 samples must
// be within 1 ulp (glibc's libm is not correctly rounded, ours is; see torchRandomLibm.ts).
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { GoldenHandler } from '../handler.ts';
import { fileExists, readJson } from '../io.ts';
import { createTorchGenerator, type TorchGenerator } from '../../../src/sampling/torchRandom.ts';

interface Sample { shape: number[]; values: number[]; f32_bits?: number[] }
interface LargeProbe {
  shape: number[]; numel: number; first64: number[]; last64: number[];
  probe_indices: number[]; probe_values: number[]; mean: number; std: number; sum_f64: number;
}
interface SeedEntry {
  seed: number; seed_str: string;
  randn: Record<string, Sample>;
  rand: Record<string, Sample>;
  sequences: Record<string, number[][]>;
  [key: string]: unknown;
}

function f32Bits(values: ArrayLike<number>): Uint32Array {
  return new Uint32Array(Float32Array.from(values).buffer);
}

/** Asserts bit equality of float32 samples and reports the first differing index. */
function expectBitsEqual(label: string, actual: Float32Array, expectedValues: number[], expectedBits?: number[]): void {
  expect(actual.length, `${label}: length`).toBe(expectedValues.length);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = expectedBits ? Uint32Array.from(expectedBits) : f32Bits(expectedValues);
  let firstBad = -1;
  for (let i = 0; i < e.length; i++) if (a[i] !== e[i]) { firstBad = i; break; }
  expect(firstBad, `${label}: first differing index ${firstBad} (got ${actual[firstBad]}, want ${expectedValues[firstBad]})`).toBe(-1);
}

function ulpDistanceF64(a: number, b: number): number {
  const buf = new Float64Array([a, b]);
  const bits = new BigInt64Array(buf.buffer);
  const toOrdered = (x: bigint) => (x < 0n ? -(x & 0x7fffffffffffffffn) : x);
  const d = toOrdered(bits[0]) - toOrdered(bits[1]);
  return Number(d < 0n ? -d : d);
}

function expectF64WithinUlp(label: string, actual: Float64Array, expected: number[]): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  let worst = 0;
  let inexact = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = ulpDistanceF64(actual[i], expected[i]);
    if (d > 0) inexact++;
    worst = Math.max(worst, d);
  }
  console.log(`[golden] ${label}: ${inexact}/${expected.length} values differ, max ${worst} ulp`);
  expect(worst, `${label}: max ulp distance`).toBeLessThanOrEqual(1);
}

/** "1x4x8x8" → [1, 4, 8, 8]; "17" → [17]. */
function parseShape(text: string): number[] {
  const dims = text.split('x').map(Number);
  if (dims.some((d) => !Number.isInteger(d))) throw new Error(`cannot parse shape "${text}"`);
  return dims;
}

/** Runs one draw named like "randn17", "randn_1x4x8x8" or "rand16". */
function drawNamed(g: TorchGenerator, name: string): Float32Array {
  const m = /^(randn|rand)_?([0-9x]+)$/.exec(name);
  if (!m) throw new Error(`unknown draw "${name}" in sequence`);
  const shape = parseShape(m[2]);
  return m[1] === 'randn' ? g.randn(shape) : g.rand(shape);
}

function seedOf(entry: SeedEntry): bigint {
  return BigInt(entry.seed_str ?? String(entry.seed));
}

function registerSeed(entry: SeedEntry): void {
  const seed = seedOf(entry);
  const tag = `seed ${entry.seed_str}`;

  it(`${tag}: randn (scalar and vectorised paths) bit-exact`, () => {
    for (const [name, s] of Object.entries(entry.randn)) {
      expectBitsEqual(`${tag} randn ${name}`, createTorchGenerator(seed).randn(s.shape), s.values, s.f32_bits);
    }
  });

  it(`${tag}: rand bit-exact`, () => {
    for (const [name, s] of Object.entries(entry.rand)) {
      expectBitsEqual(`${tag} rand ${name}`, createTorchGenerator(seed).rand(s.shape), s.values, s.f32_bits);
    }
  });

  it(`${tag}: back-to-back sequences on one generator`, () => {
    for (const [name, expected] of Object.entries(entry.sequences)) {
      const draws = name.split('_then_');
      expect(draws.length, `${name}: parts`).toBe(expected.length);
      const g = createTorchGenerator(seed);
      draws.forEach((d, k) => expectBitsEqual(`${tag} ${name}[${k}]`, drawNamed(g, d), expected[k]));
    }
  });

  it(`${tag}: generator_* and float64 entries`, () => {
    let checked = 0;
    for (const [key, value] of Object.entries(entry)) {
      if (key.startsWith('generator_')) {
        const values = value as number[];
        expectBitsEqual(`${tag} ${key}`, drawNamed(createTorchGenerator(seed), key.slice('generator_'.length)), values);
        checked++;
      } else if (key.startsWith('randn_f64_')) {
        const shape = parseShape(key.slice('randn_f64_'.length));
        expectF64WithinUlp(`${tag} ${key}`, createTorchGenerator(seed).randnF64(shape), value as number[]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  for (const [key, value] of Object.entries(entry)) {
    if (!/^randn_[0-9x]+$/.test(key)) continue;
    const probe = value as LargeProbe;
    it(`${tag}: ${key} first/last/probes bit-exact, stats`, () => {
      const x = createTorchGenerator(seed).randn(probe.shape);
      expect(x.length).toBe(probe.numel);
      expectBitsEqual(`${tag} ${key} first64`, x.subarray(0, 64), probe.first64);
      expectBitsEqual(`${tag} ${key} last64`, x.subarray(x.length - 64), probe.last64);
      expectBitsEqual(`${tag} ${key} probes`, Float32Array.from(probe.probe_indices, (i) => x[i]), probe.probe_values);
      let sum = 0;
      for (let i = 0; i < x.length; i++) sum += x[i];
      const mean = sum / x.length;
      let ss = 0;
      for (let i = 0; i < x.length; i++) ss += (x[i] - mean) ** 2;
      const std = Math.sqrt(ss / (x.length - 1));
      // Values are bit-exact; only the float64 summation order differs from numpy's.
      expect(Math.abs(sum - probe.sum_f64)).toBeLessThan(1e-9 * x.length);
      expect(Math.abs(mean - probe.mean)).toBeLessThan(1e-12);
      expect(Math.abs(std - probe.std)).toBeLessThan(1e-12);
    });
  }
}

export const handler: GoldenHandler = {
  name: 'torch rng',
  recognise(dir) {
    const p = join(dir, 'torch_rng.json');
    if (!fileExists(p)) return false;
    const json = readJson<{ seeds?: unknown }>(p);
    return Array.isArray(json.seeds);
  },
  register(dir) {
    const json = readJson<{ seeds: SeedEntry[] }>(join(dir, 'torch_rng.json'));
    for (const entry of json.seeds) registerSeed(entry);
    it('only the low 32 bits of the seed reach mt19937', () => {
      const bySeed = new Map(json.seeds.map((e) => [seedOf(e), e]));
      let pairs = 0;
      for (const [seed, e] of bySeed) {
        const low = bySeed.get(seed & 0xffffffffn);
        if (seed > 0xffffffffn && low) {
          expect(e.randn['1x4x8x8']?.values).toEqual(low.randn['1x4x8x8']?.values);
          expect(createTorchGenerator(seed).randn([1, 4, 8, 8])).toEqual(createTorchGenerator(seed & 0xffffffffn).randn([1, 4, 8, 8]));
          pairs++;
        }
      }
      console.log(`[golden] torch rng: ${pairs} seed pairs differing only above bit 32`);
    });
  },
};
