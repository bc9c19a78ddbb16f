// Global refinement of a region labelling over the region graph. The assignment rounds in match.ts choose each
// region's sheet region from costs that read its neighbours' colours as they were in the previous round; a
// region never weighs what its choice does to its neighbours' costs. That leaves self-consistent mistakes: the
// background gap between two legs cut by the frame edge is shaped and placed like a leg, takes one, and the real
// leg, now bordered by "leg" on one side, is left over as paper. Both are locally stable; only changing the two
// together shows that the whole drawing fits the sheet better.
//
// So after the rounds, the labelling is improved by swaps judged on the total energy: the sum over regions of
// each region's (size-weighted) cost under its label, with every neighbour's colour as the labelling gives it.
// A swap exchanges the labels of two touching regions when one of them is background and the other, the one that
// would become background, is smaller: the gap becomes paper and the leg takes the gap's sheet region. Exchanging keeps the one-region-per-sheet-region structure of the
// assignment. Its energy change is computed on the regions whose cost it can change: the two regions and the
// regions whose surroundings (or shade partners) include them. Regions decided background stay so, unless the
// caller marks them marginal (a frame-cut region barely over the background threshold, match.ts).

/** A label: a sheet column (index into the assignment's columns) or background (−1), possibly shared. */
export interface Label {
  column: number;
  /** The sheet region is also another region's (a piece of a split region): costs the duplicate charge. */
  shared: boolean;
}

export interface RegionGraphEnergy {
  /** Cost of candidate i taking sheet column j, given the colours now in the labelling. */
  match(i: number, j: number): number;
  /** Cost of candidate i as background, given the colours now in the labelling. */
  background(i: number): number;
  /** Extra cost of a shared label. */
  duplicateCost: number;
  /** Palette index a column paints (−1: background pocket). */
  columnColor(j: number): number;
}

export interface RefineInput {
  /** Target region of each candidate. */
  candidates: number[];
  /** Per candidate: the candidates whose cost reads its colour (neighbours, shade partners). */
  dependents: number[][];
  /** Per candidate: the candidates it may swap labels with (touching regions). */
  swapPartners: number[][];
  /** Per candidate: false keeps its label, whatever its neighbours (decided background): its cost is constant. */
  movable: boolean[];
  /**
   * Per candidate: how much its cost counts. A 200-pixel hand stub must not trade its label for a forearm's: the
   * energy weighs regions by size, but sublinearly, so that small parts (eyes, buttons) still count.
   */
  weight: number[];
  /**
   * Per candidate: decided background, movable only because the decision was marginal. Such a region takes a label
   * by a swap only from a region about its size (a spread leg from the gap beside it), never from a leg a third of
   * a floor region's size (seed 23).
   */
  marginal?: boolean[];
  labels: Label[];
  /** Palette index per target region, updated in place as moves are taken. */
  color: Int32Array;
  energy: RegionGraphEnergy;
  /** Sweeps over all swaps at most (default 4). */
  sweeps?: number;
}

/** Weight ratio (area^¼) above which a marginal background region may not take a label: area ratio 1.5. */
const MARGINAL_SIZE_RATIO = 1.5 ** 0.25;

function labelColor(l: Label, e: RegionGraphEnergy): number {
  return l.column < 0 ? -1 : e.columnColor(l.column);
}

function regionEnergy(i: number, l: Label, e: RegionGraphEnergy): number {
  if (l.column < 0) return e.background(i);
  return e.match(i, l.column) + (l.shared ? e.duplicateCost : 0);
}

/**
 * Improves `labels` (and `color`) in place by energy-lowering swaps. Returns the candidates whose label changed,
 * each with the energy gain of its last swap (how clearly the swap won).
 */
export function refineOverRegionGraph(input: RefineInput): Map<number, number> {
  const { candidates, dependents, swapPartners, movable, weight, labels, color, energy } = input;
  const sweeps = input.sweeps ?? 4;
  const gains = new Map<number, number>();
  const affected = new Set<number>();
  const sumEnergy = (): number => {
    let s = 0;
    for (const n of affected) if (movable[n]) s += weight[n] * regionEnergy(n, labels[n], energy);
    return s;
  };
  for (let sweep = 0; sweep < sweeps; sweep++) {
    let changed = false;
    for (let i = 0; i < candidates.length; i++) {
      if (!movable[i]) continue;
      for (const k of swapPartners[i]) {
        if (k <= i || !movable[k]) continue;
        const li = labels[i];
        const lk = labels[k];
        if (li.column === lk.column && li.shared === lk.shared) continue;
        // Between two sheet colours the assignment rounds already chose with the same costs; the refinement is for
        // the figure/background boundary, which those rounds decide once and never revisit.
        if (li.column >= 0 && lk.column >= 0) continue;
        // The region that would become background must be the smaller one: a swap is for a background gap that took
        // a limb's place (the gap between two legs is narrower than a leg), not for handing a forearm's colour to
        // the upper arm beside it because the upper arm was left as paper.
        const toBackground = li.column < 0 ? k : i;
        const toColour = toBackground === i ? k : i;
        if (weight[toBackground] >= weight[toColour]) continue;
        if (input.marginal?.[toColour] && weight[toColour] > MARGINAL_SIZE_RATIO * weight[toBackground]) continue;
        affected.clear();
        affected.add(i).add(k);
        for (const n of dependents[i]) affected.add(n);
        for (const n of dependents[k]) affected.add(n);
        const before = sumEnergy();
        labels[i] = lk;
        labels[k] = li;
        color[candidates[i]] = labelColor(lk, energy);
        color[candidates[k]] = labelColor(li, energy);
        const after = sumEnergy();
        if (after < before - 1e-6) {
          gains.set(i, before - after);
          gains.set(k, before - after);
          changed = true;
        } else {
          labels[i] = li;
          labels[k] = lk;
          color[candidates[i]] = labelColor(li, energy);
          color[candidates[k]] = labelColor(lk, energy);
        }
      }
    }
    if (!changed) break;
  }
  return gains;
}
