// BasicPBC-style scores of a colouring against a synthetic pair's ground truth. A ground-truth region counts
// as correct when the colour covering most of its pixels in the prediction equals its true colour
// (segment accuracy, as BasicPBC's `acc`, where each segment carries one predicted colour); pixel accuracy is
// over all non-line pixels. Both are also given for the figure only (background regions excluded).
// Regions smaller than `minRegionArea` pixels (slivers where two outlines nearly touch) are left out of the
// segment accuracy, as BasicPBC's thresholded accuracy does; `segmentAccuracyAll` keeps them.
import type { Image } from '../image.ts';
import type { SyntheticPair } from './characterSheet.ts';

export interface ColoringScore {
  /** Over ground-truth regions of at least `minRegionArea` pixels. */
  segmentAccuracy: number;
  /** Over every ground-truth region, however small. */
  segmentAccuracyAll: number;
  segmentAccuracyForeground: number;
  pixelAccuracy: number;
  pixelAccuracyForeground: number;
  /** Regions counted in segmentAccuracy. */
  regions: number;
  /** Ids of counted regions coloured wrongly. */
  wrongRegions: number[];
}

export interface ScoreOptions {
  /** Default 10 pixels per 512² of image area. */
  minRegionArea?: number;
}

export function scoreColoring(
  pred: Image, pair: Pick<SyntheticPair, 'targetRegions' | 'regionColors' | 'regionIsBackground'>, options: ScoreOptions = {},
): ColoringScore {
  const { targetRegions: gt, regionColors, regionIsBackground } = pair;
  if (pred.width * pred.height !== gt.length) throw new RangeError(`scoreColoring: prediction has ${pred.width * pred.height} pixels, ground truth ${gt.length}`);
  const ch = pred.channels;
  const nr = regionColors.length;
  const votes: Map<number, number>[] = Array.from({ length: nr }, () => new Map());
  let px = 0, pxOk = 0, fg = 0, fgOk = 0;
  for (let i = 0; i < gt.length; i++) {
    const r = gt[i];
    if (r < 0) continue;
    const c = ch === 1 ? pred.data[i] * 0x10101 : (pred.data[i * ch] << 16) | (pred.data[i * ch + 1] << 8) | pred.data[i * ch + 2];
    votes[r].set(c, (votes[r].get(c) ?? 0) + 1);
    const t = regionColors[r];
    const ok = c === ((t[0] << 16) | (t[1] << 8) | t[2]);
    px++;
    if (ok) pxOk++;
    if (!regionIsBackground[r]) {
      fg++;
      if (ok) fgOk++;
    }
  }
  const minArea = options.minRegionArea ?? (10 * gt.length) / (512 * 512);
  let segOk = 0, segAllOk = 0, counted = 0, segFg = 0, segFgOk = 0;
  const wrongRegions: number[] = [];
  for (let r = 0; r < nr; r++) {
    let best = -1, bestN = -1, area = 0;
    for (const [c, k] of votes[r]) {
      area += k;
      if (k > bestN) { best = c; bestN = k; }
    }
    const t = regionColors[r];
    const ok = best === ((t[0] << 16) | (t[1] << 8) | t[2]);
    if (ok) segAllOk++;
    if (area < minArea) continue;
    counted++;
    if (ok) segOk++;
    else wrongRegions.push(r);
    if (!regionIsBackground[r]) {
      segFg++;
      if (ok) segFgOk++;
    }
  }
  return {
    segmentAccuracy: counted ? segOk / counted : 1,
    segmentAccuracyAll: nr ? segAllOk / nr : 1,
    segmentAccuracyForeground: segFg ? segFgOk / segFg : 1,
    pixelAccuracy: px ? pxOk / px : 1,
    pixelAccuracyForeground: fg ? fgOk / fg : 1,
    regions: counted,
    wrongRegions,
  };
}
