import { describe, it, expect } from 'vitest';
import { createTorchGenerator } from './torchRandom.ts';
import { cosCR, logCR, sinCR } from './torchRandomLibm.ts';

describe('createTorchGenerator', () => {
  it('runs the standard mt19937 (seed 5489: first output and the 10000th output required by C++)', () => {
    const g = createTorchGenerator(5489);
    expect(g.nextUint32()).toBe(3499211612);
    for (let i = 2; i < 10000; i++) g.nextUint32();
    expect(g.nextUint32()).toBe(4123659995);
  });

  it('uses only the low 32 bits of the seed, and wraps negative seeds like torch', () => {
    expect(createTorchGenerator(2n ** 32n + 5n).randn([20])).toEqual(createTorchGenerator(5).randn([20]));
    expect(createTorchGenerator(-1).randn([3])).toEqual(createTorchGenerator(2n ** 64n - 1n).randn([3]));
    expect(createTorchGenerator(-1).initialSeed).toBe(2n ** 64n - 1n);
    expect(createTorchGenerator(7).randn([3])).not.toEqual(createTorchGenerator(8).randn([3]));
  });

  it('matches torch.manual_seed(0); torch.randn(4) (scalar path) and randn(16) (vectorised path)', () => {
    expect(Array.from(createTorchGenerator(0).randn([4]))).toEqual(
      [1.5409960746765137, -0.293428897857666, -2.1787893772125244, 0.5684312582015991]);
    const v = createTorchGenerator(0).randn([2, 8]);
    expect(v[0]).toBe(-1.1258398294448853);
    expect(v[15]).toBe(-0.2472781538963318);
  });

  it('keeps the cached Box–Muller value across scalar calls (randn(1) twice = randn(2))', () => {
    const g = createTorchGenerator(42);
    const a = [...g.randn([1]), ...g.randn([1])];
    expect(a).toEqual(Array.from(createTorchGenerator(42).randn([2])));
  });

  it('rand lies in [0, 1) with 24-bit resolution', () => {
    const r = createTorchGenerator(3).rand([1000]);
    for (const x of r) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
      expect(Number.isInteger(x * 2 ** 24)).toBe(true);
    }
  });

  it('randn has unit statistics on a large draw and handles empty shapes', () => {
    const x = createTorchGenerator(1).randnF64([4, 64, 64]);
    let s = 0; let ss = 0;
    for (const v of x) { s += v; ss += v * v; }
    expect(Math.abs(s / x.length)).toBeLessThan(0.03);
    expect(Math.abs(ss / x.length - 1)).toBeLessThan(0.05);
    expect(createTorchGenerator(1).randn([0, 4]).length).toBe(0);
  });

  it('rejects bad seeds and shapes with clear errors', () => {
    expect(() => createTorchGenerator(1.5)).toThrow(/integer/);
    expect(() => createTorchGenerator(Number.NaN)).toThrow(/integer/);
    expect(() => createTorchGenerator(2n ** 64n)).toThrow(/out of range/);
    expect(() => createTorchGenerator('3' as unknown as number)).toThrow(/number or bigint/);
    expect(() => createTorchGenerator(0).randn([2, -1])).toThrow(/invalid shape/);
    expect(() => createTorchGenerator(0).rand([2.5])).toThrow(/invalid shape/);
  });
});

describe('correctly rounded libm (for float64 randn)', () => {
  // Reference values from mpmath at 300 bits; V8's Math.cos/log round these the other way.
  it('rounds cos, sin and log correctly where fdlibm / glibc do not', () => {
    expect(cosCR(0.6943479431730148)).toBe(0.7684711061804234);
    expect(cosCR(4.55342179117806)).toBe(-0.1582985028295276);
    expect(sinCR(0.15770338352410573)).toBe(0.15705050600535023);
    expect(logCR(0.9530692676550883)).toBe(-0.04806769417589688);
  });

  it('agrees with Math.* to within 1 ulp on a sweep', () => {
    for (let i = 1; i < 2000; i++) {
      const x = (i / 2000) * 2 * Math.PI;
      expect(Math.abs(cosCR(x) - Math.cos(x))).toBeLessThanOrEqual(2.3e-16);
      expect(Math.abs(sinCR(x) - Math.sin(x))).toBeLessThanOrEqual(2.3e-16);
      const u = i / 2000;
      expect(Math.abs(logCR(u) - Math.log(u))).toBeLessThanOrEqual(Math.abs(Math.log(u)) * 2.3e-16 + 1e-300);
    }
    expect(logCR(1)).toBe(0);
    expect(logCR(0.5)).toBe(-Math.LN2);
  });
});
