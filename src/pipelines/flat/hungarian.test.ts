import { describe, it, expect } from 'vitest';
import { hungarian, assignmentCost } from './hungarian.ts';

function bruteForceMin(cost: number[][]): number {
  const n = cost.length;
  const m = cost[0].length;
  let best = Infinity;
  const used = new Array(m).fill(false);
  const go = (i: number, acc: number): void => {
    if (i === n) {
      best = Math.min(best, acc);
      return;
    }
    for (let j = 0; j < m; j++) {
      if (used[j]) continue;
      used[j] = true;
      go(i + 1, acc + cost[i][j]);
      used[j] = false;
    }
  };
  go(0, 0);
  return best;
}

describe('hungarian', () => {
  it('solves a textbook 3×3 matrix', () => {
    const cost = [
      [4, 1, 3],
      [2, 0, 5],
      [3, 2, 2],
    ];
    const a = hungarian(cost);
    expect([...a]).toEqual([1, 0, 2]);
    expect(assignmentCost(cost, a)).toBe(5);
  });

  it('gives every row a distinct column of a rectangular matrix', () => {
    const cost = [
      [10, 19, 8, 15],
      [10, 18, 7, 17],
    ];
    const a = hungarian(cost);
    expect(new Set(a).size).toBe(2);
    expect(assignmentCost(cost, a)).toBe(17); // 10 + 7
  });

  it('matches brute force on seeded random matrices, including negative costs and ties', () => {
    let s = 12345;
    const rand = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let trial = 0; trial < 30; trial++) {
      const n = 1 + (trial % 6);
      const m = n + (trial % 3);
      const cost = Array.from({ length: n }, () => Array.from({ length: m }, () => Math.round(rand() * 20) - 5));
      const a = hungarian(cost);
      expect(new Set(a).size).toBe(n);
      expect(assignmentCost(cost, a)).toBe(bruteForceMin(cost));
    }
  });

  it('returns an empty assignment for an empty matrix', () => {
    expect(hungarian([]).length).toBe(0);
  });

  it('rejects more rows than columns, ragged rows and non-finite costs', () => {
    expect(() => hungarian([[1], [2]])).toThrow(/2 rows but only 1 columns/);
    expect(() => hungarian([[1, 2], [3]])).toThrow(/row 1 has 1 columns/);
    expect(() => hungarian([[1, NaN]])).toThrow(/not finite/);
  });
});
