// Frame-to-frame colouring (the paint-bucket animation setting): frame n's regions take their colours from
// the coloured frame n − 1, without optical flow. Each region of the new line art votes with its interior
// pixels (one pixel in from its outline) on the colour the previous frame has there (overlap). A region that
// moved off its old place (a small or fast part) gets a second chance: the vote is repeated with the region
// shifted by up to `searchRadius` pixels, and the shift whose vote is most unanimous wins (overlap + shape:
// a shifted region only agrees with one colour where the old region had the same shape). Regions with no
// usable vote take the colour of the neighbour they share most outline with. Only colours present in the
// previous frame are used, so the palette stays exact.
import type { Image } from '../../imaging/image.ts';
import { assertImage, type Rgb } from '../../imaging/palette.ts';
import { FlatColorizeError } from './flatError.ts';
import { segmentLineArt, type LineArtRegionOptions, type LineArtRegions } from './regions.ts';
import { regionAdjacency } from './regionStats.ts';
import { growLabels, labelComponents } from './components.ts';
import { renderRegions } from './render.ts';

export interface PropagateOptions {
  lineArt?: LineArtRegionOptions;
  /** Largest shift tried, in pixels (default 12). */
  searchRadius?: number;
  /** Regions with confidence below this are reported uncertain (default 0.5). */
  uncertainBelow?: number;
}

export interface PropagateInput {
  /** The coloured previous frame (a flat layer, or a finished frame with lines), same size as `lineArt`. */
  previous: Image;
  /** The new frame's line art. */
  lineArt: Image;
  options?: PropagateOptions;
}

export interface PropagateResult {
  flat: Image;
  composite: Image;
  uncertain: Image;
  regions: LineArtRegions & { colors: Rgb[]; confidence: Float32Array };
  uncertainCount: number;
}

/** Regions whose confidence is below this are reported uncertain (see bench/flat.ts for its calibration). */
export const DEFAULT_PROPAGATE_UNCERTAIN_BELOW = 0.5;

export function propagateFlat({ previous, lineArt, options = {} }: PropagateInput): PropagateResult {
  assertImage(previous, 'previous frame');
  assertImage(lineArt, 'line art');
  if (previous.width !== lineArt.width || previous.height !== lineArt.height) {
    throw new FlatColorizeError(`previous frame is ${previous.width}×${previous.height} but the line art is ${lineArt.width}×${lineArt.height}; frame-to-frame colouring needs frames of one size`);
  }
  const regions = segmentLineArt(lineArt, options.lineArt);
  const { colors, confidence } = voteColors(regions, previous, options);
  const out = renderRegions(regions, colors, confidence, options.uncertainBelow ?? DEFAULT_PROPAGATE_UNCERTAIN_BELOW);
  return { ...out, regions: { ...regions, colors, confidence } };
}

/** Previous-frame colour key per pixel, or −1 where the pixel is not flat (outline, anti-aliased edge). */
function flatColorKeys(img: Image): Int32Array {
  const { width: w, height: h, channels: ch, data } = img;
  const n = w * h;
  const key = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    key[i] = ch === 1 ? data[i] * 0x10101 : (data[i * ch] << 16) | (data[i * ch + 1] << 8) | data[i * ch + 2];
    if (ch === 4 && data[i * 4 + 3] < 128) key[i] = 0xffffff; // transparent = paper
  }
  // A pixel counts when at least two of its 4-neighbours have its exact colour (flat fill, also in slivers
  // one or two pixels wide), and is not near-black.
  const out = new Int32Array(n).fill(-1);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const k = key[i];
      const same = (x > 0 && key[i - 1] === k ? 1 : 0) + (x < w - 1 && key[i + 1] === k ? 1 : 0) + (y > 0 && key[i - w] === k ? 1 : 0) + (y < h - 1 && key[i + w] === k ? 1 : 0);
      // Near-black neutral pixels are the outline of a finished frame, not a fill.
      const nearBlack = ((k >> 16) & 255) < 48 && ((k >> 8) & 255) < 48 && (k & 255) < 48;
      if (same >= 2 && !nearBlack) out[i] = k;
    }
  }
  return out;
}

function voteColors(regions: LineArtRegions, previous: Image, options: PropagateOptions): { colors: Rgb[]; confidence: Float32Array } {
  const { width: w, height: h, labels, line, count } = regions;
  const n = w * h;
  const prevKey = flatColorKeys(previous);
  // The previous frame as regions: 4-connected components of one flat colour.
  const eligible = new Uint8Array(n);
  for (let i = 0; i < n; i++) eligible[i] = prevKey[i] >= 0 ? 1 : 0;
  const comp = new Int32Array(n).fill(-1);
  const nc = labelComponents(eligible, comp, w, h, 0, prevKey);
  const cArea = new Float64Array(nc), cX = new Float64Array(nc), cY = new Float64Array(nc);
  const cKey = new Int32Array(nc);
  for (let i = 0; i < n; i++) {
    const c = comp[i];
    if (c < 0) continue;
    cArea[c]++;
    cX[c] += i % w;
    cY[c] += Math.floor(i / w);
    cKey[c] = prevKey[i];
  }
  for (let c = 0; c < nc; c++) { cX[c] /= cArea[c]; cY[c] /= cArea[c]; }
  // This frame's regions: non-line pixels, area and centroid.
  const pixelsOf: number[][] = Array.from({ length: count }, () => []);
  for (let i = 0; i < n; i++) if (!line[i]) pixelsOf[labels[i]].push(i);
  const radius = Math.max(0, Math.floor(options.searchRadius ?? 12));
  const chosen = new Int32Array(count).fill(-1);
  const confidence = new Float32Array(count);
  /** Per region: best tracking score per colour (from its last accepted track). */
  const colourScores: (Map<number, number> | undefined)[] = new Array(count);
  const coverage = (pix: number[], dx: number, dy: number): Map<number, number> => {
    const m = new Map<number, number>();
    const step = pix.length > 4000 ? Math.floor(pix.length / 4000) : 1; // large regions: a sample is plenty
    for (let k = 0; k < pix.length; k += step) {
      const i = pix[k];
      const x = (i % w) + dx;
      const y = Math.floor(i / w) + dy;
      if (x < 0 || y < 0 || x >= w || y >= h) continue;
      const c = comp[y * w + x];
      if (c >= 0) m.set(c, (m.get(c) ?? 0) + step);
    }
    return m;
  };
  const mX = new Float64Array(count), mY = new Float64Array(count);
  for (let r = 0; r < count; r++) {
    const pix = pixelsOf[r];
    let sx = 0, sy = 0;
    for (const i of pix) { sx += i % w; sy += Math.floor(i / w); }
    mX[r] = sx / Math.max(1, pix.length);
    mY[r] = sy / Math.max(1, pix.length);
  }
  // Displacement of each region from its old place (when matched to an old region of about its size): the
  // motion field the second pass uses for regions whose first match was unclear.
  const moveX = new Float64Array(count), moveY = new Float64Array(count), moveOk = new Uint8Array(count);
  /** Scores old regions for region r around the expected displacement (ex, ey); sets chosen/confidence. */
  const track = (r: number, ex: number, ey: number): void => {
    const pix = pixelsOf[r];
    if (!pix.length) return;
    const area = pix.length;
    const mx = mX[r], my = mY[r];
    // Score of an old region c: the share of this region it covers (in place, or at the shift that lines up
    // their centroids for nearby old regions of similar size), minus penalties for a different size and for
    // moving away from the expected displacement.
    const scores = new Map<number, number>();
    const consider = (c: number, covered: number, shift: number): void => {
      const sc = covered / area - 0.5 * Math.abs(Math.log(area / cArea[c])) - 0.005 * shift;
      if (sc > (scores.get(c) ?? -Infinity)) scores.set(c, sc);
    };
    const ix = Math.round(ex), iy = Math.round(ey);
    for (const [c, v] of coverage(pix, ix, iy)) consider(c, v, 0);
    if (radius > 0 && area <= 20000) {
      for (let c = 0; c < nc; c++) {
        const dx = Math.round(cX[c] - mx), dy = Math.round(cY[c] - my);
        if ((dx === ix && dy === iy) || Math.abs(dx - ex) > radius || Math.abs(dy - ey) > radius) continue;
        if (Math.abs(Math.log(area / cArea[c])) > 1.1) continue;
        consider(c, coverage(pix, dx, dy).get(c) ?? 0, Math.hypot(dx - ex, dy - ey));
      }
    }
    let best = -1, bestScore = -Infinity;
    for (const [c, sc] of scores) if (sc > bestScore) { best = c; bestScore = sc; }
    if (best < 0) return;
    const byColour = new Map<number, number>();
    for (const [c, sc] of scores) if (sc > (byColour.get(cKey[c]) ?? -Infinity)) byColour.set(cKey[c], sc);
    colourScores[r] = byColour;
    let other = 0;
    for (const [c, sc] of scores) if (cKey[c] !== cKey[best] && sc > other) other = sc;
    chosen[r] = cKey[best];
    confidence[r] = Math.max(0, Math.min(1, bestScore - other));
    if (Math.abs(Math.log(area / cArea[best])) < 0.3 && confidence[r] >= 0.5) {
      moveX[r] = cX[best] - mx;
      moveY[r] = cY[best] - my;
      moveOk[r] = 1;
    }
  };
  for (let r = 0; r < count; r++) track(r, 0, 0);
  // Second pass: unclear regions search again around the displacement of their clearly matched neighbours.
  const adjacency = regionAdjacency(labels, w, h, count);
  // In rounds: a region settled in one round lends its motion to its own unclear neighbours in the next.
  for (let round = 0; round < 4; round++) for (let r = 0; r < count; r++) {
    if (confidence[r] >= 0.5) continue;
    let wx = 0, wy = 0, wsum = 0;
    for (const [o, len] of adjacency[r]) {
      if (!moveOk[o]) continue;
      wx += len * moveX[o];
      wy += len * moveY[o];
      wsum += len;
    }
    if (!wsum) continue;
    const prevChoice = chosen[r], prevConf = confidence[r], prevScores = colourScores[r];
    track(r, wx / wsum, wy / wsum);
    if (confidence[r] < prevConf) {
      chosen[r] = prevChoice;
      confidence[r] = prevConf;
      colourScores[r] = prevScores;
    }
  }
  recheckWithNeighbours(chosen, confidence, colourScores, adjacency, colourAdjacency(comp, cKey, w, h));
  // Regions without a vote: the colour of the neighbour they share most outline with.
  for (let pass = 0; pass < 4; pass++) {
    for (let r = 0; r < count; r++) {
      if (chosen[r] >= 0) continue;
      let best = -1;
      let len = 0;
      for (const [o, l] of adjacency[r]) if (chosen[o] >= 0 && l > len) { best = o; len = l; }
      if (best >= 0) chosen[r] = chosen[best];
    }
  }
  const colors: Rgb[] = Array.from(chosen, (k) => (k < 0 ? [255, 255, 255] : [(k >> 16) & 255, (k >> 8) & 255, k & 255]) as Rgb);
  if (n > 0 && chosen.every((k) => k < 0)) {
    throw new FlatColorizeError('previous frame has no flat colour where the new line art has regions: is it a coloured frame?');
  }
  return { colors, confidence };
}

/**
 * Which colours touch which across a line in the previous frame (shared boundary length per colour pair,
 * normalised per colour): the structure a new region's colour should agree with.
 */
function colourAdjacency(comp: Int32Array, cKey: Int32Array, w: number, h: number): Map<number, Map<number, number>> {
  const grown = Int32Array.from(comp);
  growLabels(grown, w, h);
  const pairs = new Map<number, Map<number, number>>();
  const add = (a: number, b: number): void => {
    if (a < 0 || b < 0 || a === b) return;
    const ka = cKey[a], kb = cKey[b];
    let m = pairs.get(ka);
    if (!m) pairs.set(ka, (m = new Map()));
    m.set(kb, (m.get(kb) ?? 0) + 1);
  };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (x + 1 < w && grown[i + 1] !== grown[i]) { add(grown[i], grown[i + 1]); add(grown[i + 1], grown[i]); }
      if (y + 1 < h && grown[i + w] !== grown[i]) { add(grown[i], grown[i + w]); add(grown[i + w], grown[i]); }
    }
  }
  for (const m of pairs.values()) {
    let total = 0;
    for (const v of m.values()) total += v;
    for (const [k, v] of m) m.set(k, v / total);
  }

  return pairs;
}

/**
 * Unclear regions (confidence < ½) choose again among the colours their tracking considered, adding how well
 * each colour agrees with the confidently tracked neighbours: in the previous frame, does that colour touch
 * the neighbours' colours? A region that moved onto a neighbour's old place takes that neighbour's colour by
 * overlap alone; the neighbours show it is not that neighbour (it borders it) but what borders it.
 */
// Tuned on seeds 100–149 (frame → next 98.0 → 98.7 % segments; 150–189: 98.15 %).
const NEIGHBOUR_WEIGHT = 2;
const UNTRACKED_PENALTY = 0.3;

function recheckWithNeighbours(
  chosen: Int32Array, confidence: Float32Array, colourScores: (Map<number, number> | undefined)[],
  adjacency: Map<number, number>[], touch: Map<number, Map<number, number>>,
): void {
  const next = Int32Array.from(chosen);
  for (let r = 0; r < chosen.length; r++) {
    if (confidence[r] >= 0.5 || !colourScores[r]) continue;
    let total = 0;
    const around: [number, number][] = [];
    for (const [o, len] of adjacency[r]) {
      if (chosen[o] < 0 || confidence[o] < 0.5) continue;
      around.push([chosen[o], len]);
      total += len;
    }
    if (!total) continue;
    // Candidates: the colours tracking considered, and the colours that touch the neighbours' colours.
    const options = new Map(colourScores[r]!);
    let floor = Infinity;
    for (const v of options.values()) floor = Math.min(floor, v);
    for (const [k] of around) for (const c of touch.get(k)?.keys() ?? []) if (!options.has(c)) options.set(c, Math.min(0, floor) - UNTRACKED_PENALTY);
    let best = chosen[r], bestScore = -Infinity;
    for (const [c, sc] of options) {
      const m = touch.get(c);
      let agree = 0;
      for (const [k, len] of around) if ((m?.get(k) ?? 0) > 0.01) agree += len;
      const score = sc + NEIGHBOUR_WEIGHT * (agree / total);
      if (score > bestScore) { best = c; bestScore = score; }
    }
    next[r] = best;
  }
  chosen.set(next);
}
