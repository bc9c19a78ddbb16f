import { describe, expect, it } from 'vitest';
import { generateCharacterPair } from '../imaging/synthetic/characterSheet.ts';
import { builtinDescriptor, cosine, embeddingDescriptor, minePairs } from './sdroPairs.ts';

describe('SDRO pair mining', () => {
  it('the built-in descriptor finds each character\'s other view as its nearest picture', () => {
    const seeds = [31, 32, 33, 34, 35];
    const views = seeds.flatMap((seed) => {
      const p = generateCharacterPair({ seed, width: 96 });
      return [p.reference, p.target];
    });
    const d = views.map(builtinDescriptor);
    for (const v of d) expect(cosine(v, v)).toBeCloseTo(1, 5);
    let right = 0;
    for (let i = 0; i < d.length; i++) {
      let best = -1;
      for (let j = 0; j < d.length; j++) if (j !== i && (best < 0 || cosine(d[i], d[j]) > cosine(d[i], d[best]))) best = j;
      if (Math.floor(best / 2) === Math.floor(i / 2)) right++;
    }
    expect(right).toBeGreaterThanOrEqual(8); // of 10
  });

  it('mines ordered pairs at or above the threshold, most similar first', () => {
    const e = (v: number[]) => embeddingDescriptor(Float32Array.from(v));
    const d = [e([1, 0, 0]), e([0.95, 0.05, 0]), e([0, 1, 0]), e([0, 0.9, 0.1])];
    const pairs = minePairs(d, 0.9);
    expect(pairs.map((p) => [p.reference, p.target])).toEqual([[0, 1], [1, 0], [2, 3], [3, 2]]);
    expect(pairs[0].similarity).toBeGreaterThan(pairs[2].similarity);
    expect(minePairs(d, 0.9999)).toEqual([]);
  });
});
