import { describe, it, expect } from 'vitest';
import { cachedModel, compositionSteps, fullStepSchedule, StepCacheError } from './stepCache.ts';

describe('step caching schedule', () => {
  it('keeps the first and last steps full and refreshes every interval', () => {
    expect(fullStepSchedule(7, 3)).toEqual([true, false, false, true, false, false, true]);
    expect(fullStepSchedule(6, 3)).toEqual([true, false, false, true, false, true]);
    expect(fullStepSchedule(4, 1)).toEqual([true, true, true, true]);
    expect(fullStepSchedule(1, 5)).toEqual([true]);
  });

  it('keeps a text-to-image run\'s composition steps (the first 40 %) full before caching', () => {
    expect(compositionSteps(20)).toBe(8);
    expect(compositionSteps(6)).toBe(3);
    const s = fullStepSchedule(20, 3, compositionSteps(20));
    expect(s.slice(0, 8).every(Boolean)).toBe(true);
    expect(s.map((f, i) => (f ? i : -1)).filter((i) => i >= 0)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 9, 12, 15, 18, 19]);
    expect(fullStepSchedule(20, 3, 0)).toEqual(fullStepSchedule(20, 3));
  });

  it('rejects intervals it cannot honour', () => {
    for (const bad of [0, -1, 2.5, 11, NaN]) expect(() => fullStepSchedule(20, bad)).toThrow(StepCacheError);
  });

  it('runs full calls on the schedule and hands their features to the shallow calls after them', async () => {
    const log: string[] = [];
    const m = cachedModel<number>({
      async full(i) { log.push(`full ${i}`); return { sample: Float32Array.of(i), deepFeatures: Float32Array.of(i * 10) }; },
      async shallow(i, f) { log.push(`shallow ${i} on ${f[0]}`); return Float32Array.of(-i); },
    }, fullStepSchedule(5, 2));
    const outs: number[] = [];
    for (let i = 0; i < 6; i++) outs.push((await m.run(i))[0]);
    expect(log).toEqual(['full 0', 'shallow 1 on 0', 'full 2', 'shallow 3 on 20', 'full 4', 'full 5']);
    expect(outs).toEqual([0, -1, 2, -3, 4, 5]);
    expect(m.stats).toEqual({ full: 4, shallow: 2 });
  });
});
