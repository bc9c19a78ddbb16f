// Features of a line-art region for the learned background decision (learnedBackground.ts): the hand cues of
// backgroundDecision.ts, plus what the structure of the first round's matching says. A leg left as paper is
// shaped and placed like a leg, but so is the gap between two legs; what tells them apart is how the region sits
// in the figure: whether the sheet regions its neighbours took touch the sheet region it took (a figure part's
// neighbours are matched to its sheet neighbours, scenery's are not), whether the colours its match borders on
// the sheet are around it, where it lies along the figure, and whether it had to share a sheet region.
// Every feature is invariant to the sheet's and the frame's size and to a mirror flip.
import { backgroundProbability, CUE_ORDER, type BackgroundRound } from './backgroundDecision.ts';
import { alignedDistance } from './match.ts';

export const BACKGROUND_FEATURES = [
  ...CUE_ORDER, 'handLogit', 'globalNearest', 'matchedNeighbours', 'adjacentMatches', 'sheetNeighbourColours',
  'layoutY', 'layoutX', 'elongation', 'logCompactness', 'children', 'shared', 'neighbourCount',
] as const;

export const BACKGROUND_FEATURE_COUNT = BACKGROUND_FEATURES.length;

/** Features of every candidate, row-major: [candidates × BACKGROUND_FEATURE_COUNT]. */
export function backgroundFeatures(r: BackgroundRound): Float32Array {
  const { target, reference, candidates, refIds, referenceColor, color, matchedTo, alignment: a, refScale, figureBox: box } = r;
  const F = BACKGROUND_FEATURE_COUNT;
  const out = new Float32Array(candidates.length * F);
  const refNeighbours = reference.map((f) => new Set(f.neighbours.map(([o]) => o)));
  const takers = new Map<number, number>();
  for (const t of candidates) if (matchedTo[t] >= 0) takers.set(matchedTo[t], (takers.get(matchedTo[t]) ?? 0) + 1);
  const boxW = Math.max(1, box.x1 - box.x0);
  const boxH = Math.max(1, box.y1 - box.y0);
  candidates.forEach((t, i) => {
    const ft = target[t];
    const cues = r.cues[i];
    const o = i * F;
    CUE_ORDER.forEach((k, q) => { out[o + q] = cues[k]; });
    let q = CUE_ORDER.length;
    const p = Math.min(1 - 1e-6, Math.max(1e-6, backgroundProbability(cues)));
    out[o + q++] = Math.log(p / (1 - p));
    let nearest = Infinity;
    for (const j of refIds) nearest = Math.min(nearest, alignedDistance(ft, reference[j], a) / refScale);
    out[o + q++] = Math.min(nearest, 3);
    // Neighbours matched to a sheet region (share of the outline), and of those, the share whose sheet region is
    // this region's own or touches it on the sheet.
    const m = matchedTo[t];
    let matched = 0, adjacent = 0;
    const around = new Set<number>();
    for (const [n, share] of ft.neighbours) {
      if (color[n] >= 0) around.add(color[n]);
      const mn = matchedTo[n];
      if (mn < 0) continue;
      matched += share;
      if (m >= 0 && (mn === m || refNeighbours[m].has(mn))) adjacent += share;
    }
    out[o + q++] = matched;
    out[o + q++] = matched > 0.05 ? adjacent / matched : 0.5;
    // Share of the matched sheet region's outline whose colour (paper included) is also around this region.
    let seen = 0.5;
    if (m >= 0) {
      seen = 0;
      for (const [n, share] of reference[m].neighbours) {
        const c = reference[n].background ? -1 : referenceColor[n];
        if (c < 0 ? ft.neighbours.some(([k]) => color[k] === -1) : around.has(c)) seen += share;
      }
    }
    out[o + q++] = seen;
    const x = a.s * (a.mirror ? -ft.cx : ft.cx) + a.tx;
    const y = a.s * ft.cy + a.ty;
    out[o + q++] = Math.max(-1, Math.min(2, (y - box.y0) / boxH));
    out[o + q++] = Math.min(2, Math.abs(x - (box.x0 + box.x1) / 2) / (boxW / 2));
    out[o + q++] = ft.elongation;
    out[o + q++] = Math.log(ft.compactness);
    out[o + q++] = Math.min(3, ft.children);
    out[o + q++] = m >= 0 && (takers.get(m) ?? 0) > 1 ? 1 : 0;
    out[o + q++] = Math.min(12, ft.neighbours.length) / 12;
  });
  return out;
}
