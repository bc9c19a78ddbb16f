import { describe, it, expect } from 'vitest';
import { refineOverRegionGraph, type Label, type RegionGraphEnergy } from './graphRefine.ts';

// A toy drawing: region 0 is a leg, region 1 the background gap beside it, region 2 the other leg (touching 1).
// One sheet column (0: the legs, palette colour 7). The gap fits the sheet leg on its own slightly better than
// the leg does, but a leg-coloured gap makes both legs border "leg" where the sheet leg borders paper.
function toyEnergy(color: Int32Array): RegionGraphEnergy {
  const legBordersLeg = (i: number): number => (i === 1 ? 0 : color[1] === 7 ? 1 : 0);
  return {
    match: (i) => (i === 1 ? 1.0 : 1.2) + 2 * legBordersLeg(i) + (i === 1 ? 2 * Number(color[0] === 7 || color[2] === 7) : 0),
    background: (i) => (i === 1 ? 0.5 : 3.0),
    duplicateCost: 0.25,
    columnColor: () => 7,
  };
}

function run(labels: Label[], movable = [true, true, true], weight = [1, 0.8, 1]) {
  const color = Int32Array.from(labels, (l) => (l.column < 0 ? -1 : 7));
  const gains = refineOverRegionGraph({
    candidates: [0, 1, 2],
    dependents: [[1], [0, 2], [1]],
    swapPartners: [[1], [0, 2], [1]],
    movable,
    weight,
    labels,
    color,
    energy: toyEnergy(color),
  });
  return { color: [...color], gains };
}

describe('refineOverRegionGraph', () => {
  it('swaps a leg left as background with the gap that took its sheet region', () => {
    const { color, gains } = run([{ column: -1, shared: false }, { column: 0, shared: false }, { column: 0, shared: true }]);
    expect(color).toEqual([7, -1, 7]);
    expect([...gains.keys()].sort()).toEqual([0, 1]);
    expect(gains.get(0)).toBeGreaterThan(0);
  });

  it('does not make the larger of the two regions background', () => {
    const { color, gains } = run([{ column: -1, shared: false }, { column: 0, shared: false }, { column: 0, shared: true }], undefined, [1, 1.2, 1]);
    expect(color).toEqual([-1, 7, 7]);
    expect(gains.size).toBe(0);
  });

  it('keeps a labelling no swap improves', () => {
    const { color, gains } = run([{ column: 0, shared: false }, { column: -1, shared: false }, { column: 0, shared: true }]);
    expect(color).toEqual([7, -1, 7]);
    expect(gains.size).toBe(0);
  });

  it('never moves a region decided background', () => {
    const { color } = run([{ column: -1, shared: false }, { column: 0, shared: false }, { column: 0, shared: true }], [false, true, true]);
    expect(color).toEqual([-1, 7, 7]);
  });

  it('does not swap two sheet colours (the assignment rounds decide those)', () => {
    const labels: Label[] = [{ column: 0, shared: false }, { column: 1, shared: false }, { column: -1, shared: false }];
    const color = Int32Array.from([7, 8, -1]);
    refineOverRegionGraph({
      candidates: [0, 1, 2], dependents: [[1], [0], []], swapPartners: [[1], [0], []], movable: [true, true, true], weight: [1, 1, 1],
      labels, color,
      energy: { match: (i, j) => (i === j ? 5 : 0), background: () => 9, duplicateCost: 0.25, columnColor: (j) => 7 + j },
    });
    expect([...color]).toEqual([7, 8, -1]);
  });
});
