// Is a target region background (paper or scenery the sheet does not show) or part of the figure? Decided
// once, after a first assignment round in which every region took its cheapest sheet colour, from what that
// round says about the region: how well the best sheet region fits without and with position, how far the
// region lies from the sheet figure once aligned, its size against the whole figure, whether it touches the
// frame edge and how much of its outline already borders background. No single cue separates scenery from a
// raised arm or a cropped sleeve; a logistic combination fitted on generated production pairs (tuning seeds
// 100–159; `npx tsx bench/flat.ts --fit-background` refits and prints these weights) does much better
// than a threshold on any one of them (tuning seeds: 85.0 → 89.3 % segments). These weights predate the
// articulated-position cue (match.ts); refits made since then, unweighted or weighted by region pixels,
// each lost 2–3 points of character pixels on tuning seeds 0–59, so the older fit is kept.

import type { MatchingState } from './match.ts';

export interface BackgroundCues {
  /** Cheapest full cost (shape + area + position + surroundings) over the sheet regions. */
  bestCost: number;
  /** Cheapest cost with the position term left out. */
  bestCostNoPosition: number;
  /** Aligned distance to the nearest sheet figure region's centroid, over √(sheet figure area). */
  nearestDistance: number;
  /** Distance of the aligned centroid outside the sheet figure's bounding box (0 inside), same unit. */
  outsideFigure: number;
  /** log of (aligned area / sheet figure area). */
  logRelativeArea: number;
  /** 1 when the region touches the frame edge. */
  border: number;
  /** Share of its outline bordering regions already known to be background. */
  backgroundNeighbours: number;
  /** Share of the other regions' area whose centroids lie in its bounding box. */
  enclosure: number;
  /** Share of its pixels that land on the sheet's background once aligned (sheetOverlap.ts). */
  sheetPaper: number;
}

/** Weights of the logistic model over the cues (order of CUE_ORDER), then the bias. */
export const BACKGROUND_WEIGHTS = {
  bestCost: 2.022,
  bestCostNoPosition: 0.152,
  nearestDistance: -3.35,
  outsideFigure: -1.971,
  logRelativeArea: 0.343,
  border: -0.558,
  backgroundNeighbours: 1.445,
  enclosure: -4.64,
  sheetPaper: 1.433,
  bias: -6.066,
};

export type BackgroundWeights = typeof BACKGROUND_WEIGHTS;

export const CUE_ORDER: (keyof BackgroundCues)[] = [
  'bestCost', 'bestCostNoPosition', 'nearestDistance', 'outsideFigure', 'logRelativeArea', 'border', 'backgroundNeighbours', 'enclosure', 'sheetPaper',
];

/** Probability (0..1) that the region is background. */
export function backgroundProbability(c: BackgroundCues, w: BackgroundWeights = BACKGROUND_WEIGHTS): number {
  let z = w.bias;
  for (const k of CUE_ORDER) z += w[k] * c[k];
  return 1 / (1 + Math.exp(-z));
}

/** What a background-decision hook sees (match.ts, after the first assignment round). */
export interface BackgroundRound extends MatchingState {
  /** Bounding box of the sheet figure (sheet pixels). */
  figureBox: { x0: number; y0: number; x1: number; y1: number };
  /** The hand cues of each candidate (the logistic model's inputs). */
  cues: BackgroundCues[];
}
