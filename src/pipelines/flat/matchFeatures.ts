// Features of a (line-art region, sheet region) pair for the learned matcher, from what match.ts already
// computes in an assignment round: the hand cost's terms one by one (unweighted), the hand cost itself and how
// it stands in its row and among the sheet regions of the same colour, and the context that changes how much a
// term can be trusted (a region cut by the frame edge, a tiny region, the first round with no colours yet).
// And one from the structure of the previous round's matching: whether the sheet regions this region's neighbours
// took touch the candidate sheet region (a forearm's neighbours took the upper arm and the hand, which touch the
// sheet's forearm; a ponytail's neighbours took hair and paper, which do not touch the sheet's shirt).
// Every feature is invariant to the sheet's and the frame's size, and to a mirror flip.
import {
  alignedDistance, areaMismatch, histogramDistance, partnerDistance, surroundings, type PairCostRound,
} from './match.ts';

export const PAIR_FEATURES = [
  'position', 'area', 'elongation', 'compactness', 'children', 'enclosure', 'neighbours', 'partners',
  'handCost', 'aboveRowBest', 'aboveColourBest', 'colourBestAboveRowBest', 'border', 'targetLogArea', 'sheetLogArea',
  'sheetPocket', 'colouredRound', 'colourShare', 'adjacentMatches',
] as const;

export const PAIR_FEATURE_COUNT = PAIR_FEATURES.length;

/**
 * Features of every (candidate, sheet region) pair of the round, row-major: [candidates × refIds × PAIR_FEATURE_COUNT].
 */
export function pairFeatures(r: PairCostRound): Float32Array {
  const { target, reference, candidates, refIds, referenceColor, color, matchedTo, alignment: a, refScale, hand } = r;
  const nr = refIds.length;
  const F = PAIR_FEATURE_COUNT;
  const out = new Float32Array(candidates.length * nr * F);
  const refArea = refScale * refScale;
  const refColorOf = (o: number): number => (reference[o].background ? -1 : referenceColor[o]);
  const refSurround = refIds.map((j) => surroundings(reference[j], refColorOf));
  // Share of the sheet figure's area in each colour: a colour that covers much of the sheet is a likelier answer.
  const colourArea = new Map<number, number>();
  for (const j of refIds) colourArea.set(referenceColor[j], (colourArea.get(referenceColor[j]) ?? 0) + reference[j].area);
  const s2 = a.s * a.s;
  const refNeighbours = refIds.map((j) => new Set(reference[j].neighbours.map(([o]) => o)));
  candidates.forEach((t, i) => {
    const ft = target[t];
    const row = hand[i];
    let rowBest = Infinity;
    const colourBest = new Map<number, number>();
    for (let k = 0; k < nr; k++) {
      rowBest = Math.min(rowBest, row[k]);
      const c = referenceColor[refIds[k]];
      colourBest.set(c, Math.min(colourBest.get(c) ?? Infinity, row[k]));
    }
    const surround = surroundings(ft, (o) => color[o]);
    const matchedNeighbours = ft.neighbours.filter(([n]) => matchedTo[n] >= 0);
    let matchedShare = 0;
    for (const [, share] of matchedNeighbours) matchedShare += share;
    for (let k = 0; k < nr; k++) {
      const fr = reference[refIds[k]];
      const c = referenceColor[refIds[k]];
      const o = (i * nr + k) * F;
      out[o] = alignedDistance(ft, fr, a) / refScale;
      out[o + 1] = areaMismatch(ft, s2 * ft.area, fr.area);
      out[o + 2] = Math.abs(ft.elongation - fr.elongation);
      out[o + 3] = Math.abs(Math.log(ft.compactness / fr.compactness));
      out[o + 4] = Math.min(1, Math.abs(ft.children - fr.children));
      out[o + 5] = Math.abs(ft.enclosure - fr.enclosure);
      out[o + 6] = r.round > 0 ? histogramDistance(surround, refSurround[k]) : 0.5;
      out[o + 7] = r.round > 0 ? partnerDistance(ft, fr, (q) => color[q], refColorOf) : 0.5;
      out[o + 8] = row[k];
      out[o + 9] = row[k] - rowBest;
      out[o + 10] = row[k] - colourBest.get(c)!;
      out[o + 11] = colourBest.get(c)! - rowBest;
      out[o + 12] = ft.border ? 1 : 0;
      out[o + 13] = Math.log(Math.max(1e-6, (s2 * ft.area) / refArea));
      out[o + 14] = Math.log(Math.max(1e-6, fr.area / refArea));
      out[o + 15] = c < 0 ? 1 : 0;
      out[o + 16] = r.round > 0 ? 1 : 0;
      out[o + 17] = (colourArea.get(c) ?? 0) / refArea;
      let adjacent = 0;
      for (const [n, share] of matchedNeighbours) if (matchedTo[n] === refIds[k] || refNeighbours[k].has(matchedTo[n])) adjacent += share;
      out[o + 18] = matchedShare > 0.05 ? adjacent / matchedShare : 0.5;
    }
  });
  return out;
}
