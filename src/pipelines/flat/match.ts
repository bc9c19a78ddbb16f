// Region matching between the target line art and the reference sheet, built to survive a new pose, a
// mirror flip, a zoomed/cropped shot and scenery around the figure.
//
// 1. Alignment. Which target regions are the figure is unknown (a cropped figure touches the frame edge;
//    scenery surrounds it), so positions are not normalised by "the figure" but by a similarity
//    (scale, translation, optional mirror) from target to reference pixels. Hypotheses come from pairs of
//    regions with similar rotation-invariant shape (elongation, compactness, number of enclosed regions):
//    scale from √(area ratio), translation from centroids. Each hypothesis is scored by how well it explains
//    the larger target regions (capped cost, so scenery and moved limbs cannot dominate); the best one is
//    refined by least squares on its inliers.
// 2. Assignment. Cost = aligned position + log area ratio + shape + the colours around the region (its
//    adjacency, which carries inclusion: a pupil surrounded by iris, an iris by eye white) — the last one
//    depends on the current colouring, so the Hungarian assignment is refined in rounds. A target region may
//    also take "background" (paper or scenery: nothing on the sheet fits) or share the colour of its
//    cheapest reference region (pieces of a region split by an arm, strands, an occluder).
//    A region cut by the frame edge may be much smaller than its sheet region and its outline says less.
//    Background is decided after the first round; for that decision a region far from every sheet region (a
//    raised arm) is also placed relative to its matched neighbours (articulate), so it is not taken for scenery.
// 3. Refinement over the region graph (graphRefine.ts): a region and a touching background region swap labels
//    when that lowers the whole drawing's cost, neighbours' surroundings included (a leg left as paper beside
//    the gap between the legs that took its colour).
// 4. Confidence: the margin between the chosen colour's cost and the best other colour's (or background's).
import { backgroundProbability, BACKGROUND_WEIGHTS, type BackgroundCues, type BackgroundRound, type BackgroundWeights } from './backgroundDecision.ts';
import { refineOverRegionGraph, type Label } from './graphRefine.ts';
import { hungarian } from './hungarian.ts';
import type { RegionStats } from './regionStats.ts';

export interface RegionFeature {
  area: number;
  cx: number;
  cy: number;
  /** √(λmin/λmax) of the second-moment matrix: 1 = round, → 0 = a thin stroke (rotation invariant). */
  elongation: number;
  /** Boundary length over the circumference of a disc of equal area (≥ ~1; scale and rotation invariant). */
  compactness: number;
  /** Neighbours (region id) with their share of this region's boundary. */
  neighbours: [number, number][];
  /** Share of all other regions' area whose centroid lies inside this region's bounding box (paper ≈ 1). */
  enclosure: number;
  /** Number of regions enclosed by this one (their whole boundary is this region). */
  children: number;
  /** Known background (the sheet's paper); target regions start as not known. */
  background: boolean;
  /** Touches the image edge. */
  border: boolean;
  /**
   * Shade partners: in line art, the regions across a colour-trace line; on a sheet, the fills it touches with
   * no outline between (a shade and its base). Region id → share of those contacts.
   */
  partners: [number, number][];
  /** Bounding box of the region's fill pixels. */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface MatchWeights {
  position: number;
  area: number;
  elongation: number;
  compactness: number;
  children: number;
  enclosure: number;
  neighbours: number;
  /** Colours across trace lines against the sheet's shade partners. */
  partners: number;
}

/** Tuned on production-style pairs, seeds 100–139 and 1000–1059 (held-out evaluation uses 20000+). */
export const DEFAULT_WEIGHTS: MatchWeights = {
  position: 2.5,
  area: 0.6,
  elongation: 0.8,
  compactness: 0.6,
  children: 0.4,
  enclosure: 2.0,
  neighbours: 3.0,
  partners: 1.5,
};

export interface MatchOptions {
  weights?: Partial<MatchWeights>;
  /** Refinement rounds using the neighbour-colour term (default 3). */
  rounds?: number;
  /** Cost above which a target region is background rather than a sheet colour (default 1.6). */
  backgroundCost?: number;
  /** Extra cost for reusing a reference region another target region already took (default 0.25). */
  duplicateCost?: number;
  /** Aligned target regions smaller than this fraction of the sheet figure take a neighbour's colour (default 1.5e-4). */
  minMatchArea?: number;
  /** At most this many target regions (the largest) enter the O(n³) assignment (default 400). */
  maxAssigned?: number;
  /** Logistic model deciding background after the first round (default: the fitted BACKGROUND_WEIGHTS). */
  backgroundModel?: BackgroundWeights;
  /** Background decision passes (default 1). */
  backgroundPasses?: number;
  /** Probability above which a region is background (default 0.5). */
  backgroundThreshold?: number;
  /** Called with each candidate's background cues (for fitting the model; see bench/flatBackgroundFit.ts). */
  onBackgroundCues?: (targetRegion: number, cues: BackgroundCues) => void;
  /** Refine the final labelling by energy-lowering moves over the region graph (graphRefine.ts; default true). */
  refineOverGraph?: boolean;
  /**
   * Replaces each round's pair costs (rows: candidates, columns: sheet regions) before the assignment: the learned
   * matcher (learnedMatcher.ts). The background decision keeps reading the hand costs.
   */
  pairCost?: (round: PairCostRound) => number[][];
  /** Replaces the logistic background model: probability of background per candidate (learnedBackground.ts). */
  backgroundDecision?: (round: BackgroundRound) => ArrayLike<number>;
}

/** What the hooks (pair costs, background decision) see of the matching so far. */
export interface MatchingState {
  target: RegionFeature[];
  reference: RegionFeature[];
  /** Target regions in the assignment (rows) and matchable sheet regions (columns). */
  candidates: number[];
  refIds: number[];
  referenceColor: Int32Array;
  /** Current palette index per target region (−2 undecided, −1 background); for the background decision, after round 0. */
  color: Int32Array;
  /** Sheet region each target region took in the previous round (−1: none yet, background). */
  matchedTo: Int32Array;
  alignment: Alignment;
  /** √(sheet figure area). */
  refScale: number;
}

/** What a pair-cost hook sees in one assignment round. */
export interface PairCostRound extends MatchingState {
  round: number;
  /** The hand-set cost matrix of this round. */
  hand: number[][];
}

export interface Alignment {
  /** Reference pixel = s·(±x, y) + (tx, ty) for a target pixel (x, y); mirror flips x first. */
  s: number;
  mirror: boolean;
  tx: number;
  ty: number;
}

export interface MatchResult {
  /** Palette index per target region; −1 for background. */
  color: Int32Array;
  /** Reference region each target region was matched to (−1: background / from neighbours). */
  matchedTo: Int32Array;
  /** 0..1 per target region: how clearly the chosen colour beat the alternatives. */
  confidence: Float32Array;
  alignment: Alignment;
}

export function describeRegions(
  stats: RegionStats, adjacency: Map<number, number>[], background: boolean[], touchesBorder?: boolean[], partnerContacts?: Map<number, number>[],
): RegionFeature[] {
  const out: RegionFeature[] = [];
  const enclosedBy = new Int32Array(stats.count).fill(-1);
  for (let r = 0; r < stats.count; r++) {
    let total = 0;
    let top = -1;
    let topLen = 0;
    for (const [other, len] of adjacency[r]) {
      total += len;
      if (len > topLen) {
        top = other;
        topLen = len;
      }
    }
    if (total && topLen / total >= 0.97 && !background[r]) enclosedBy[r] = top;
  }
  const children = new Int32Array(stats.count);
  for (let r = 0; r < stats.count; r++) if (enclosedBy[r] >= 0) children[enclosedBy[r]]++;
  let allArea = 0;
  for (let r = 0; r < stats.count; r++) allArea += stats.area[r];
  const enclosure = new Float64Array(stats.count);
  for (let r = 0; r < stats.count; r++) {
    if (!stats.area[r]) continue;
    let inside = 0;
    for (let q = 0; q < stats.count; q++) {
      if (q === r || !stats.area[q]) continue;
      if (stats.cx[q] >= stats.x0[r] && stats.cx[q] <= stats.x1[r] && stats.cy[q] >= stats.y0[r] && stats.cy[q] <= stats.y1[r]) inside += stats.area[q];
    }
    enclosure[r] = inside / Math.max(1, allArea - stats.area[r]);
  }
  for (let r = 0; r < stats.count; r++) {
    const a = stats.area[r];
    const tr = stats.sxx[r] + stats.syy[r];
    const det = stats.sxx[r] * stats.syy[r] - stats.sxy[r] ** 2;
    const disc = Math.sqrt(Math.max(0, (tr * tr) / 4 - det));
    const l1 = tr / 2 + disc;
    const l2 = Math.max(0, tr / 2 - disc);
    let total = 0;
    for (const len of adjacency[r].values()) total += len;
    out.push({
      area: a,
      cx: stats.cx[r],
      cy: stats.cy[r],
      elongation: l1 > 0 ? Math.sqrt(l2 / l1) : 1,
      compactness: a > 0 ? Math.max(1, total / 2 / (2 * Math.sqrt(Math.PI * a))) : 1,
      neighbours: [...adjacency[r]].map(([other, len]) => [other, total ? len / total : 0] as [number, number]),
      children: children[r],
      enclosure: enclosure[r],
      background: background[r],
      border: touchesBorder?.[r] ?? false,
      partners: partnerShares(partnerContacts?.[r]),
      x0: stats.x0[r], y0: stats.y0[r], x1: stats.x1[r], y1: stats.y1[r],
    });
  }
  return out;
}

/** Partners with their share of the contacts, ignoring a few stray pixels of contact (under 4 or 5 %). */
function partnerShares(contacts: Map<number, number> | undefined): [number, number][] {
  if (!contacts) return [];
  let total = 0;
  for (const n of contacts.values()) total += n;
  return [...contacts].filter(([, n]) => n >= 4 && n >= 0.05 * total).map(([o, n]) => [o, n / total] as [number, number]);
}

/**
 * How well the colours across a target region's trace lines fit a sheet region's shade partners (0 = same
 * colours; 1 = none shared; 0.5 when only one side has partners). Production draws a trace line only between
 * a colour and its shade or highlight, so a region and its partner never share a colour.
 */
export function partnerDistance(t: RegionFeature, r: RegionFeature, colorOf: (region: number) => number, refColorOf: (region: number) => number): number {
  if (!t.partners.length && !r.partners.length) return 0;
  if (!t.partners.length || !r.partners.length) return 0.5;
  const want = new Map<number, number>();
  for (const [o, share] of r.partners) want.set(refColorOf(o), (want.get(refColorOf(o)) ?? 0) + share);
  let inter = 0;
  let mass = 0;
  for (const [o, share] of t.partners) {
    const c = colorOf(o);
    if (c < -1) continue;
    mass += share;
    inter += Math.min(share, want.get(c) ?? 0);
  }
  return mass > 0.05 ? 1 - inter / mass : 0.5;
}

/** Colour histogram of a region's surroundings: colour key → share of boundary (background = key −1). */
export function surroundings(f: RegionFeature, colorOf: (region: number) => number): Map<number, number> {
  const h = new Map<number, number>();
  for (const [other, share] of f.neighbours) {
    const key = colorOf(other);
    if (key < -1) continue;
    h.set(key, (h.get(key) ?? 0) + share);
  }
  return h;
}

export function histogramDistance(p: Map<number, number>, q: Map<number, number>): number {
  let inter = 0;
  let mass = 0;
  for (const [k, v] of p) {
    inter += Math.min(v, q.get(k) ?? 0);
    mass += v;
  }
  // Undecided neighbours carry no evidence: compare on the decided share only.
  return mass > 0.05 ? 1 - inter / mass : 0.5;
}

function shapeCost(t: RegionFeature, r: RegionFeature, w: MatchWeights): number {
  // A region cut by the frame edge shows only part of its outline: its elongation and compactness say less.
  const outline = t.border ? CROPPED_SHAPE_TRUST : 1;
  return (
    outline * w.elongation * Math.abs(t.elongation - r.elongation) +
    outline * w.compactness * Math.abs(Math.log(t.compactness / r.compactness)) +
    w.children * Math.min(1, Math.abs(t.children - r.children)) +
    w.enclosure * Math.abs(t.enclosure - r.enclosure)
  );
}

export function alignedDistance(t: RegionFeature, r: RegionFeature, a: Alignment): number {
  return Math.hypot(a.s * (a.mirror ? -t.cx : t.cx) + a.tx - r.cx, a.s * t.cy + a.ty - r.cy);
}

function alignedCost(t: RegionFeature, r: RegionFeature, a: Alignment, refScale: number, w: MatchWeights): number {
  const x = a.s * (a.mirror ? -t.cx : t.cx) + a.tx;
  const y = a.s * t.cy + a.ty;
  return w.position * Math.hypot(x - r.cx, y - r.cy) / refScale + w.area * areaMismatch(t, a.s * a.s * t.area, r.area);
}

/**
 * |log area ratio|, except that a region cut by the frame edge (a leg stub at the bottom of a close-up) may be
 * any amount smaller than its sheet region: only a small part of that shortfall counts.
 */
export function areaMismatch(t: RegionFeature, alignedArea: number, refArea: number): number {
  const d = Math.log((alignedArea + 1) / (refArea + 1));
  return t.border && d < 0 ? -CROPPED_SHORTFALL * d : Math.abs(d);
}

/** Weight of a frame-cut region's missing area, and of its outline shape (tuned on seeds 0–59). */
const CROPPED_SHORTFALL = 0.25;
const CROPPED_SHAPE_TRUST = 0.5;

/** Finds the target → reference similarity that explains the most target area (see the file comment). */
export function alignRegions(target: RegionFeature[], reference: RegionFeature[], weights: Partial<MatchWeights> = {}): Alignment {
  const w = { ...DEFAULT_WEIGHTS, ...weights };
  const refIds = reference.map((_, k) => k).filter((k) => !reference[k].background && reference[k].area > 0);
  let refArea = 0, rcx = 0, rcy = 0;
  for (const r of refIds) {
    refArea += reference[r].area;
    rcx += reference[r].cx * reference[r].area;
    rcy += reference[r].cy * reference[r].area;
  }
  const refScale = Math.sqrt(refArea || 1);
  const bigRefs = [...refIds].sort((a, b) => reference[b].area - reference[a].area).slice(0, 30);
  const tIds = target.map((_, k) => k).filter((k) => target[k].area > 0);
  const bigTargets = [...tIds].sort((a, b) => target[b].area - target[a].area).slice(0, 30);
  const evalTargets = [...tIds].sort((a, b) => target[b].area - target[a].area).slice(0, 40);
  const evalRefs = [...refIds].sort((a, b) => reference[b].area - reference[a].area).slice(0, 40);
  const shape = evalTargets.map((t) => evalRefs.map((r) => shapeCost(target[t], reference[r], w)));
  const cap = 2.0;
  // Symmetric: every target region should find a sheet region and every sheet region a target region.
  // One-sided, shrinking the whole frame onto a corner of the sheet would win (smaller offsets everywhere).
  const refBest = new Float64Array(evalRefs.length);
  // alignedCost unrolled: thousands of hypotheses × 40 × 40 pairs, so per-region terms are computed once.
  const refX = evalRefs.map((r) => reference[r].cx);
  const refY = evalRefs.map((r) => reference[r].cy);
  const refLogArea = evalRefs.map((r) => Math.log(reference[r].area + 1));
  const score = (a: Alignment): number => {
    let total = 0;
    refBest.fill(cap);
    const sx = a.mirror ? -a.s : a.s;
    const s2 = a.s * a.s;
    for (let i = 0; i < evalTargets.length; i++) {
      const t = target[evalTargets[i]];
      const x = sx * t.cx + a.tx;
      const y = a.s * t.cy + a.ty;
      const logArea = Math.log(s2 * t.area + 1);
      const row = shape[i];
      let best = cap;
      for (let j = 0; j < evalRefs.length; j++) {
        const dx = x - refX[j];
        const dy = y - refY[j];
        const c = row[j] + (w.position * Math.sqrt(dx * dx + dy * dy)) / refScale + w.area * Math.abs(logArea - refLogArea[j]);
        if (c < best) best = c;
        if (c < refBest[j]) refBest[j] = c;
      }
      total += best;
    }
    let refTotal = 0;
    for (let j = 0; j < evalRefs.length; j++) refTotal += refBest[j];
    return 0.5 * (total / Math.max(1, evalTargets.length) + refTotal / Math.max(1, evalRefs.length));
  };
  // The fallback hypothesis: all target regions but the largest border-sized one onto the sheet figure.
  let tArea = 0, tcx = 0, tcy = 0;
  for (const t of tIds.slice(0)) {
    if (t === bigTargets[0] && target[t].area > 2 * refArea) continue;
    tArea += target[t].area;
    tcx += target[t].cx * target[t].area;
    tcy += target[t].cy * target[t].area;
  }
  const sFallback = Math.sqrt(refArea / (tArea || 1));
  // Plausible framings: the sheet figure, mapped into the frame, covers 3 % (a long shot) to 150 % (a close-up
  // cropped at the edges) of the frame; without this bound, shrinking the whole frame onto the sheet figure
  // lets scenery pose as the character.
  let frameArea = 0;
  for (const t of tIds) frameArea += target[t].area;
  const sMax = Math.sqrt(refArea / (0.03 * frameArea));
  const sMin = Math.sqrt(refArea / (1.5 * frameArea));
  // The fallback, too, must be a plausible framing (a frame full of scenery would otherwise shrink onto the sheet).
  const s0 = Math.min(sMax, Math.max(sMin, sFallback));
  const hypotheses: Alignment[] = [];
  for (const mirror of [false, true]) {
    hypotheses.push({ s: s0, mirror, tx: rcx / (refArea || 1) - s0 * (mirror ? -1 : 1) * (tcx / (tArea || 1)), ty: rcy / (refArea || 1) - s0 * (tcy / (tArea || 1)) });
  }
  for (const t of bigTargets) {
    for (const r of bigRefs) {
      const ft = target[t];
      const fr = reference[r];
      if (shapeCost(ft, fr, w) > 0.35 || ft.children !== fr.children) continue;
      const s = Math.sqrt(fr.area / ft.area);
      if (s < sMin || s > sMax) continue;
      for (const mirror of [false, true]) hypotheses.push({ s, mirror, tx: fr.cx - s * (mirror ? -ft.cx : ft.cx), ty: fr.cy - s * ft.cy });
    }
  }
  let best = hypotheses[0];
  let bestScore = Infinity;
  for (const h of hypotheses) {
    const sc = score(h);
      if (sc < bestScore) {
      bestScore = sc;
      best = h;
    }
  }
  // Least-squares refinement on the inliers (pairs explained well by the current alignment).
  for (let iter = 0; iter < 3; iter++) {
    const pairs: [RegionFeature, RegionFeature, number][] = [];
    for (let i = 0; i < evalTargets.length; i++) {
      const t = target[evalTargets[i]];
      let bj = -1;
      let bc = 0.6;
      for (let j = 0; j < evalRefs.length; j++) {
        const c = shape[i][j] + alignedCost(t, reference[evalRefs[j]], best, refScale, w);
        if (c < bc) {
          bc = c;
          bj = j;
        }
      }
      if (bj >= 0) pairs.push([t, reference[evalRefs[bj]], 1]);
    }
    if (pairs.length < 3) break;
    const refined = fitSimilarity(pairs, best.mirror);
    if (!refined || refined.s < 0.1 || score(refined) > bestScore) break;
    best = refined;
    bestScore = score(refined);
  }
  return best;
}

/** Weighted least-squares scale + translation (no rotation) mapping target centroids onto reference ones. */
function fitSimilarity(pairs: [RegionFeature, RegionFeature, number][], mirror: boolean): Alignment | undefined {
  let W = 0, mx = 0, my = 0, nx = 0, ny = 0;
  for (const [t, r, w] of pairs) {
    const x = mirror ? -t.cx : t.cx;
    W += w; mx += w * x; my += w * t.cy; nx += w * r.cx; ny += w * r.cy;
  }
  mx /= W; my /= W; nx /= W; ny /= W;
  let num = 0, den = 0;
  for (const [t, r, w] of pairs) {
    const x = (mirror ? -t.cx : t.cx) - mx;
    const y = t.cy - my;
    num += w * (x * (r.cx - nx) + y * (r.cy - ny));
    den += w * (x * x + y * y);
  }
  if (den <= 0) return undefined;
  const s = num / den;
  return { s, mirror, tx: nx - s * mx, ty: ny - s * my };
}

/**
 * `sheetBackgroundShare`, when given, says for an alignment which share of each target region lands on the
 * sheet's background (sheetOverlap.ts); it is one of the background cues.
 */
export function matchRegions(
  target: RegionFeature[], reference: RegionFeature[], referenceColor: Int32Array, options: MatchOptions = {},
  sheetBackgroundShare?: (a: Alignment) => Float64Array,
): MatchResult {
  const w = { ...DEFAULT_WEIGHTS, ...options.weights };
  const rounds = options.rounds ?? 3;
  const bgCost = options.backgroundCost ?? 3.0;
  const dupCost = options.duplicateCost ?? 0.25;
  const minArea = options.minMatchArea ?? 1.5e-4;
  const maxAssigned = options.maxAssigned ?? 400;
  // Sheet regions a target region can match: the figure's, and enclosed background pockets (colour −1).
  const refIds = reference.map((_, k) => k).filter((k) => !reference[k].background);
  let refArea = 0;
  for (const r of refIds) if (referenceColor[r] >= 0) refArea += reference[r].area;
  const refScale = Math.sqrt(refArea || 1);
  const alignment = alignRegions(target, reference, w);
  const nt = target.length;
  const onSheetPaper = sheetBackgroundShare?.(alignment) ?? new Float64Array(nt);
  const color = new Int32Array(nt).fill(-2); // −2 = not decided yet
  const matchedTo = new Int32Array(nt).fill(-1);
  const confidence = new Float32Array(nt);
  const s2 = alignment.s * alignment.s;
  for (let t = 0; t < nt; t++) {
    if (target[t].background) {
      color[t] = -1;
      confidence[t] = 1;
    } else if (s2 * target[t].area > 3 * refArea) {
      color[t] = -1; // far larger than the whole sheet figure: paper or scenery
      confidence[t] = 1;
    }
  }
  const candidates = [...target.keys()]
    .filter((t) => color[t] === -2 && s2 * target[t].area >= minArea * refArea)
    .sort((a, b) => target[b].area - target[a].area)
    .slice(0, maxAssigned);
  const isCandidate = new Uint8Array(nt);
  for (const t of candidates) isCandidate[t] = 1;
  const paperSurround = new Map<number, number>();
  reference.forEach((f, r) => {
    if (!f.background) return;
    for (const [k, v] of surroundings(f, (o) => (reference[o].background ? -3 : referenceColor[o]))) paperSurround.set(k, (paperSurround.get(k) ?? 0) + v);
  });
  const refSurround = reference.map((f) => surroundings(f, (r) => (reference[r].background ? -1 : referenceColor[r])));
  const position = candidates.map((t) => refIds.map((r) => w.position * alignedDistance(target[t], reference[r], alignment) / refScale));
  const geometric = candidates.map((t) => refIds.map((r) => shapeCost(target[t], reference[r], w) + alignedCost(target[t], reference[r], alignment, refScale, w)));
  const refNeighbours = reference.map((f) => new Set(f.neighbours.map(([o]) => o)));
  const refIndex = new Int32Array(reference.length).fill(-1);
  refIds.forEach((r, j) => { refIndex[r] = j; });
  const isBackgroundLike = candidates.map(() => false);
  const bgProbability = new Float64Array(candidates.length);
  const figureBox = { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
  for (const r of refIds) {
    const f = reference[r];
    if (f.area <= 0) continue;
    figureBox.x0 = Math.min(figureBox.x0, f.x0); figureBox.y0 = Math.min(figureBox.y0, f.y0);
    figureBox.x1 = Math.max(figureBox.x1, f.x1); figureBox.y1 = Math.max(figureBox.y1, f.y1);
  }
  let cost = geometric;
  let cueCost = geometric;
  // The same with the position along the figure (articulate): read only by the background decision. A raised
  // arm must not be taken for scenery, but its colour is chosen better by the global position (tuning seeds
  // 0–59: using it for the colours too cost 0.4 points of segment accuracy and 0.5 of character pixels).
  const artPosition = position.map((row) => [...row]);
  const artGeometric = geometric.map((row) => [...row]);
  const labels: Label[] = candidates.map(() => ({ column: -1, shared: false }));
  for (let round = 0; round <= rounds; round++) {
    if (round > 0) {
      // The background model was fitted on costs without the shade-partner term: it reads those.
      cueCost = candidates.map((t, i) => {
        const s = surroundings(target[t], (o) => color[o]);
        return refIds.map((r, j) => geometric[i][j] + w.neighbours * histogramDistance(s, refSurround[r]));
      });
      cost = cueCost.map((row, i) => row.map((c, j) => c + w.partners * partnerDistance(
        target[candidates[i]], reference[refIds[j]], (o) => color[o], (o) => (reference[o].background ? -1 : referenceColor[o]),
      )));
    }
    if (options.pairCost) cost = options.pairCost({ round, target, reference, candidates, refIds, referenceColor, color, matchedTo, alignment, refScale, hand: cost });
    if (round === 1) {
      // Background (paper, scenery) is decided once, after one round in which every region took a sheet colour:
      // then a scenery region's surroundings do not look like its best match's, while a figure region's do.
      // Deciding it again in later rounds would let a region taken as background drag its neighbours along.
      // Position counts less here: a raised arm is far from the sheet's arm but still shaped and surrounded like one.
      const model = options.backgroundModel ?? BACKGROUND_WEIGHTS;
      const threshold = options.backgroundThreshold ?? 0.5;
      // Scenery comes in clusters (a window: frame and panes): a second pass counts the regions the first
      // pass took as background among each region's background neighbours.
      const known = Int32Array.from(color);
      for (let pass = 0; pass < (options.backgroundPasses ?? 1); pass++) {
        const cues = cueCost.map((full, i) => {
          const row = full.map((c, j) => c - geometric[i][j] + artGeometric[i][j]);
          return backgroundCues(target[candidates[i]], row, artPosition[i], figureBox, refScale, alignment, s2 / refArea, known, w.position, onSheetPaper[candidates[i]]);
        });
        if (pass === 0 && options.onBackgroundCues) cues.forEach((c, i) => options.onBackgroundCues!(candidates[i], c));
        const p = options.backgroundDecision?.({ target, reference, candidates, refIds, referenceColor, color: known, matchedTo, alignment, refScale, figureBox, cues })
          ?? cues.map((c) => backgroundProbability(c, model));
        cues.forEach((_, i) => {
          bgProbability[i] = p[i];
          isBackgroundLike[i] = bgProbability[i] > threshold;
        });
        candidates.forEach((t, i) => { known[t] = isBackgroundLike[i] ? -1 : color[t]; });
      }
    }
    // Columns: the reference regions, then one "extra" column per target: background or a shared colour.
    // Background is also matched like a region (once neighbours have colours): the sheet's paper has its own
    // surroundings (the outer parts of the figure) and its own place (where aligned pixels land on paper).
    // A corner of paper cut off by a twin tail at the frame edge borders only hair and lands on paper beside
    // the tail; sharing the hair's colour it would border hair, which the sheet's hair never does.
    const paperCost = cost.map((_, i) => (round > 0 ? paperMatchCost(target[candidates[i]], color, paperSurround, onSheetPaper[candidates[i]], w) : Infinity));
    const extra = cost.map((row, i) => (isBackgroundLike[i] ? -1e3 : Math.min(Math.min(...row) + dupCost, paperCost[i])));
    const matrix = cost.map((row, i) => {
      const full = new Float64Array(refIds.length + candidates.length).fill(1e6);
      full.set(row);
      full[refIds.length + i] = extra[i];
      return full;
    });
    const assignment = candidates.length ? hungarian(matrix) : new Int32Array(0);
    const next = Int32Array.from(color);
    candidates.forEach((t, i) => {
      const j = assignment[i];
      const row = cost[i];
      let chosenCost: number;
      if (j < refIds.length) {
        matchedTo[t] = refIds[j];
        next[t] = referenceColor[refIds[j]];
        chosenCost = row[j];
        labels[i] = { column: j, shared: false };
      } else {
        let best = 0;
        for (let k = 1; k < refIds.length; k++) if (row[k] < row[best]) best = k;
        if (!isBackgroundLike[i] && !(round > 0 && bgProbability[i] > DUP_BG) && paperCost[i] > extra[i]) {
          matchedTo[t] = refIds[best];
          next[t] = referenceColor[refIds[best]];
          chosenCost = row[best] + dupCost;
          labels[i] = { column: best, shared: true };
        } else {
          matchedTo[t] = -1;
          next[t] = -1;
          chosenCost = bgCost;
          labels[i] = { column: -1, shared: false };
        }
      }
      // Best alternative: another colour's cheapest region, or background.
      let alt = next[t] === -1 ? Infinity : Math.max(bgCost, chosenCost);
      for (let k = 0; k < refIds.length; k++) if (referenceColor[refIds[k]] !== next[t] && row[k] < alt) alt = row[k];
      confidence[t] = Math.max(0, Math.min(1, (alt - chosenCost) / 0.6));
    });
    color.set(next);
    if (round === 0) articulate(target, reference, candidates, refIds, refIndex, refNeighbours, matchedTo, alignment.s, refScale, w, artPosition, artGeometric);
    for (let t = 0; t < nt; t++) if (!isCandidate[t] && color[t] !== -1) color[t] = -2;
    fillFromNeighbours(target, color, confidence);
  }
  if (!candidates.length) fillFromNeighbours(target, color, confidence);
  else if (options.refineOverGraph ?? true) {
    // The same costs as the last round's, read with the colours as the refinement changes them. Background costs
    // what the paper match does, but never more than the cost above which a region is background anyway.
    const refColorOf = (o: number): number => (reference[o].background ? -1 : referenceColor[o]);
    const colorOf = (o: number): number => color[o];
    const graph = candidateGraph(target, candidates);
    const gains = refineOverRegionGraph({
      candidates,
      ...graph,
      movable: isBackgroundLike.map((b, i) => !b || (target[candidates[i]].border && bgProbability[i] < MARGINAL_BACKGROUND)),
      marginal: isBackgroundLike,
      // Fourth root of the aligned area (over the sheet figure's). Unweighted, a hand stub traded its background
      // label for a forearm's colour; weighted by √area, small regions were sacrificed (tuning seeds 0–59, all
      // swaps, segments: unweighted 90.3 %, area^¼ 89.8 %, √area 89.0 %).
      weight: candidates.map((t) => (s2 * target[t].area / refArea) ** 0.25),
      labels,
      color,
      energy: {
        match: (i, j) => geometric[i][j] + w.neighbours * histogramDistance(surroundings(target[candidates[i]], colorOf), refSurround[refIds[j]])
          + w.partners * partnerDistance(target[candidates[i]], reference[refIds[j]], colorOf, refColorOf),
        background: (i) => Math.min(bgCost, paperMatchCost(target[candidates[i]], color, paperSurround, onSheetPaper[candidates[i]], w)),
        duplicateCost: dupCost,
        columnColor: (j) => referenceColor[refIds[j]],
      },
    });
    candidates.forEach((t, i) => { matchedTo[t] = labels[i].column < 0 ? -1 : refIds[labels[i].column]; });
    // A swapped region is as sure as the swap's energy gain says (same scale as the rounds' cost margin).
    for (const [i, gain] of gains) confidence[candidates[i]] = Math.min(confidence[candidates[i]], Math.max(0, Math.min(1, gain / 0.6)));
    for (let t = 0; t < nt; t++) if (!isCandidate[t] && color[t] !== -1 && !target[t].background) color[t] = -2;
    fillFromNeighbours(target, color, confidence);
  }
  return { color, matchedTo, confidence, alignment };
}

/**
 * The region graph restricted to the assigned candidates (indices into `candidates`): touching candidates may swap
 * labels, and a candidate's cost reads the colours of its neighbours and shade partners (its dependents' costs
 * read its colour; both relations are symmetric).
 */
function candidateGraph(target: RegionFeature[], candidates: number[]): { dependents: number[][]; swapPartners: number[][] } {
  const index = new Int32Array(target.length).fill(-1);
  candidates.forEach((t, i) => { index[t] = i; });
  const swapPartners = candidates.map((t) => target[t].neighbours.map(([o]) => index[o]).filter((k) => k >= 0));
  const dependents = candidates.map((t, i) => [...new Set([...swapPartners[i], ...target[t].partners.map(([o]) => index[o]).filter((k) => k >= 0)])]);
  return { dependents, swapPartners };
}

/**
 * Articulated position (tuned on seeds 0–59: character pixels 95.7 → 96.4 %): `outOfPlace` is the distance
 * (over √figure area) beyond which a region has no sheet region near, `minShare` the least share of its outline
 * a neighbour must hold to anchor it, `penalty` the distance added to every anchored placement, `minArea` the
 * least aligned area (over the sheet figure's) of a region it places: a moved limb is large, while small scenery
 * pieces beside the figure can find some anchored sheet neighbour at a fitting distance and be kept from
 * background by it (tuning seeds 0–59: segments 89.79 → 89.86 %, character pixels 96.39 → 96.38 %).
 */
const ARTICULATION = { outOfPlace: 0.12, minShare: 0.05, penalty: 0.1, minArea: 0.01 };

/**
 * Position along the figure rather than on the sheet: a raised arm is far from where the sheet's arm is once the
 * whole frame is aligned, but its forearm is still as far from its upper arm as the sheet's forearm is from the
 * sheet's upper arm. For each target neighbour n matched to sheet region m (after the first round), a sheet
 * region r touching m is placed by comparing the distances |t − n| (scaled) and |r − m|: lengths, so a limb may
 * rotate about its joint or be mirrored. The position term becomes the smaller of the global and this one.
 */
function articulate(
  target: RegionFeature[], reference: RegionFeature[], candidates: number[], refIds: number[], refIndex: Int32Array, refNeighbours: Set<number>[],
  matchedTo: Int32Array, s: number, refScale: number, w: MatchWeights, position: number[][], geometric: number[][],
): void {
  candidates.forEach((t, i) => {
    const ft = target[t];
    // Only for a region no sheet region is near: where the global alignment holds, it is the sharper cue.
    if (Math.min(...position[i]) < w.position * ARTICULATION.outOfPlace) return;
    if ((s * s * ft.area) / (refScale * refScale) < ARTICULATION.minArea) return;
    const local = new Float64Array(refIds.length).fill(Infinity);
    for (const [n, share] of ft.neighbours) {
      const m = matchedTo[n];
      if (m < 0 || share < ARTICULATION.minShare) continue;
      const fn = target[n];
      const fm = reference[m];
      const tLen = s * Math.hypot(ft.cx - fn.cx, ft.cy - fn.cy);
      for (const r of refNeighbours[m]) {
        const j = refIndex[r];
        if (j < 0) continue;
        const fr = reference[r];
        const d = Math.abs(tLen - Math.hypot(fr.cx - fm.cx, fr.cy - fm.cy)) / refScale + ARTICULATION.penalty;
        if (d < local[j]) local[j] = d;
      }
    }
    for (let j = 0; j < refIds.length; j++) {
      const p = w.position * local[j];
      if (p < position[i][j]) {
        geometric[i][j] -= position[i][j] - p;
        position[i][j] = p;
      }
    }
  });
}

/** Background as a match: a fixed base, the surroundings against the sheet paper's, and the share not landing on paper. */
function paperMatchCost(t: RegionFeature, color: Int32Array, paperSurround: Map<number, number>, onSheetPaper: number, w: MatchWeights): number {
  return PAPER_BASE + w.neighbours * histogramDistance(surroundings(t, (o) => color[o]), paperSurround) + PAPER_OVERLAP * (1 - onSheetPaper);
}

const PAPER_BASE = 0.3;
const PAPER_OVERLAP = 6.0;

// A region that lost its sheet region to another target region (a duplicate, sharing the colour) is more
// likely scenery than a region that won one: it is background already above this background probability.
// Tuned on seeds 100–159 (89.3 → 89.5 % segments), checked on 160–199 (90.5 → 90.9 %).
const DUP_BG = 0.3;

// A frame-cut region taken for background by a small margin stays movable in the region-graph refinement: a leg
// in a wide stance lands on the sheet's paper once aligned (background probability 0.50–0.57) while the gap beside
// it lands on the sheet's legs and takes their colour; only the whole drawing's energy tells them apart. Such a region
// takes a label only from a region about its size (graphRefine.ts), or a floor near the threshold takes a leg's place.
// Tuning seeds 0–119 and 1000–1059: character pixels 96.49 → 96.62 %, segments 90.80 → 90.85 % (seeds 23, 65, 1050
// gain 9–11 points, seed 43 loses 7.6); 0.65 without the frame-cut condition also gave a window pane a colour.
const MARGINAL_BACKGROUND = 0.6;

/** Undecided regions (specks) take the colour of the decided neighbour they touch most. */
function fillFromNeighbours(target: RegionFeature[], color: Int32Array, confidence: Float32Array): void {
  for (let pass = 0; pass < 8; pass++) {
    let changed = false;
    let pending = false;
    for (let t = 0; t < target.length; t++) {
      if (color[t] !== -2) continue;
      let best = -2;
      let bestShare = 0;
      for (const [other, share] of target[t].neighbours) {
        if (color[other] >= -1 && share > bestShare) {
          best = color[other];
          bestShare = share;
        }
      }
      if (best >= -1) {
        color[t] = best;
        confidence[t] = bestShare;
        changed = true;
      } else pending = true;
    }
    if (!pending || !changed) break;
  }
  for (let t = 0; t < target.length; t++) {
    if (color[t] === -2) {
      color[t] = -1;
      confidence[t] = 0;
    }
  }
}

function backgroundCues(
  t: RegionFeature, row: number[], position: number[], box: { x0: number; y0: number; x1: number; y1: number },
  refScale: number, a: Alignment, areaScale: number, color: Int32Array, positionWeight: number, sheetPaper: number,
): BackgroundCues {
  let bestCost = Infinity, bestCostNoPosition = Infinity, nearest = Infinity;
  for (let j = 0; j < row.length; j++) {
    if (row[j] < bestCost) bestCost = row[j];
    if (row[j] - position[j] < bestCostNoPosition) bestCostNoPosition = row[j] - position[j];
    if (position[j] < nearest) nearest = position[j];
  }
  const x = a.s * (a.mirror ? -t.cx : t.cx) + a.tx;
  const y = a.s * t.cy + a.ty;
  const dx = Math.max(0, box.x0 - x, x - box.x1);
  const dy = Math.max(0, box.y0 - y, y - box.y1);
  let bgShare = 0;
  for (const [other, share] of t.neighbours) if (color[other] === -1) bgShare += share;
  return {
    bestCost, bestCostNoPosition, nearestDistance: nearest / positionWeight, outsideFigure: Math.hypot(dx, dy) / refScale,
    logRelativeArea: Math.log(Math.max(1e-6, areaScale * t.area)), border: t.border ? 1 : 0, backgroundNeighbours: bgShare, enclosure: t.enclosure, sheetPaper,
  };
}
