// Line art → closed regions. Lines are binarised; the gap closing is a trapped-ball fill expressed with a
// distance transform: a ball of radius R fits at pixels farther than R from every line, so the connected
// components of those pixels are rooms whose walls may have breaks narrower than ~2R. The rooms then grow
// back towards the lines in order of decreasing distance (a watershed on the distance map), so two rooms
// meet inside a break instead of leaking through it. Areas too narrow for the ball that no room reaches
// (small closed shapes: eyes, buttons) are flood-filled as rooms of their own; line pixels are finally given
// to the nearest region so the flat layer has no holes under the lines.
// Input may be a line layer on transparency (alpha is composited over white paper) and may carry colour-trace
// lines (blue/red/green shadow and highlight boundaries): they bound regions like black lines, and are
// reported in `trace` so the finished drawing paints them over instead of multiplying them in.
import { type Image } from '../../imaging/image.ts';
import { assertImage } from '../../imaging/palette.ts';
import { growLabels, labelComponents } from './components.ts';
import { FlatColorizeError } from './flatError.ts';

export interface LineArtRegionOptions {
  /** Grey level below which a pixel is line (default 128). */
  threshold?: number;
  /** Ball radius for gap closing, in pixels: breaks up to about 2·radius − 1 px are closed (default 2; 0 disables). */
  gapRadius?: number;
  /**
   * The ball also splits one area where it narrows below ~2R (a sliver of face between hair spikes). A split
   * piece is merged back into the neighbour it touches most when contact / √(smaller area) exceeds this
   * (default 0.3); a break in a wall between two real areas is short compared with their size and stays closed.
   */
  neckRatio?: number;
  /** Invert white-on-black line art automatically (default true: when more than half the pixels are "line"). */
  autoInvert?: boolean;
}

export interface LineArtRegions {
  width: number;
  height: number;
  /** Region id of every pixel (line pixels belong to a neighbouring region). */
  labels: Int32Array;
  /** 1 on line pixels. */
  line: Uint8Array;
  count: number;
  /** Regions touching the image border (an ordinary region: a cropped figure touches it too). */
  touchesBorder: boolean[];
  /** Grey level per pixel after compositing a transparent layer over white (what `line` thresholds). */
  grey: Uint8Array;
  /** 1 on colour-trace pixels: chromatic ink (line or its anti-aliased fringe) rather than black. */
  trace: Uint8Array;
  /** True when the input was white lines on black and was inverted first. */
  inverted: boolean;
}

export function segmentLineArt(lineArt: Image, options: LineArtRegionOptions = {}): LineArtRegions {
  assertImage(lineArt, 'line art');
  const { width: w, height: h } = lineArt;
  const n = w * h;
  const threshold = options.threshold ?? 128;
  const radius = Math.max(0, Math.floor(options.gapRadius ?? 2));
  const { grey, trace } = inkOf(lineArt);
  const line = new Uint8Array(n);
  let lineCount = 0;
  for (let i = 0; i < n; i++) {
    if (grey[i] < threshold) {
      line[i] = 1;
      lineCount++;
    }
  }
  let inverted = false;
  if ((options.autoInvert ?? true) && lineCount > n / 2) {
    // Mostly "ink": this is white-on-black (a blueprint); lines are the light pixels.
    inverted = true;
    for (let i = 0; i < n; i++) line[i] ^= 1;
    lineCount = n - lineCount;
  }
  if (lineCount === 0) throw new FlatColorizeError(`line art has no lines: no pixel is darker than ${threshold} (${w}×${h})`);
  if (lineCount === n) throw new FlatColorizeError(`line art is all lines: no pixel is lighter than ${threshold} (${w}×${h})`);

  const labels = new Int32Array(n).fill(-1);
  const free = new Uint8Array(n);
  for (let i = 0; i < n; i++) free[i] = line[i] ^ 1;
  let count = 0;
  let level: Uint8Array | undefined;
  if (radius > 0) {
    level = nearLineLevels(line, w, h, radius);
    const seeds = new Uint8Array(n);
    for (let i = 0; i < n; i++) seeds[i] = free[i] && level[i] === 0 ? 1 : 0;
    count = labelComponents(seeds, labels, w, h, 0);
    watershedGrow(labels, free, level, w, h, radius);
  }
  // Closed areas no ball reached: one region per 4-connected component.
  count = labelComponents(free, labels, w, h, count);
  count = mergeNeckSplits(labels, free, w, h, count, options.neckRatio ?? 0.3, level);
  const touchesBorder = new Array<boolean>(count).fill(false);
  for (let x = 0; x < w; x++) {
    markBorder(labels[x], line[x]);
    markBorder(labels[(h - 1) * w + x], line[(h - 1) * w + x]);
  }
  for (let y = 0; y < h; y++) {
    markBorder(labels[y * w], line[y * w]);
    markBorder(labels[y * w + w - 1], line[y * w + w - 1]);
  }
  function markBorder(label: number, isLine: number): void {
    if (!isLine && label >= 0) touchesBorder[label] = true;
  }
  growLabels(labels, w, h);
  return { width: w, height: h, labels, line, count, touchesBorder, inverted, grey, trace };
}

/**
 * Grey level (BT.601; for coloured ink its darkest channel) of every pixel with transparency composited over
 * white, and the colour-trace mask:
 * pixels whose ink is clearly chromatic (max − min channel over 48), as blue/red/green trace lines and their
 * anti-aliased fringes are, while black lines, grey scans and paper are not.
 */
export function inkOf(image: Image): { grey: Uint8Array; trace: Uint8Array } {
  const { width: w, height: h, channels: ch, data } = image;
  const n = w * h;
  const grey = new Uint8Array(n);
  const trace = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (ch === 1) {
      grey[i] = data[i];
      continue;
    }
    let r = data[i * ch];
    let g = data[i * ch + 1];
    let b = data[i * ch + 2];
    if (ch === 4) {
      const a = data[i * 4 + 3];
      r = 255 - (a * (255 - r) + 127) / 255;
      g = 255 - (a * (255 - g) + 127) / 255;
      b = 255 - (a * (255 - b) + 127) / 255;
    }
    grey[i] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    if (Math.max(r, g, b) - Math.min(r, g, b) > 48) {
      trace[i] = 1;
      // A thin blue line is light in grey (blue weighs 0.114): judge coloured ink by its strongest channel.
      grey[i] = Math.min(grey[i], Math.round(Math.min(r, g, b)));
    }
  }
  return { grey, trace };
}

/**
 * For pixels within `radius` of a line: 1 + the rank of their squared distance among the integer values
 * ≤ radius² in decreasing order (so 1 = farthest from the line); 0 = farther than radius (a ball fits).
 * Stamps a disc around each line pixel that touches free space, which is exact within the radius because
 * the nearest line pixel of a free pixel always borders free space.
 */
function nearLineLevels(line: Uint8Array, w: number, h: number, radius: number): Uint8Array {
  const n = w * h;
  const r2 = radius * radius;
  const values = new Set<number>();
  for (let dy = 0; dy <= radius; dy++) for (let dx = 0; dx <= radius; dx++) if (dx * dx + dy * dy <= r2) values.add(dx * dx + dy * dy);
  const sorted = [...values].sort((a, b) => b - a); // sorted[k] has level k + 1
  const rank = new Map(sorted.map((v, k) => [v, k + 1]));
  const sdx: number[] = [];
  const sdy: number[] = [];
  const slev: number[] = [];
  for (let dy = -radius; dy <= radius; dy++) {
    for (let dx = -radius; dx <= radius; dx++) {
      const d2 = dx * dx + dy * dy;
      if (d2 > 0 && d2 <= r2) {
        sdx.push(dx);
        sdy.push(dy);
        slev.push(rank.get(d2)!);
      }
    }
  }
  const offset = Int32Array.from(sdx, (dx, k) => sdy[k] * w + dx);
  const lev = Uint8Array.from(slev);
  const m = offset.length;
  const level = new Uint8Array(n);
  for (let y = 0; y < h; y++) {
    const inner = y >= radius && y < h - radius;
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!line[i]) continue;
      if (!((x > 0 && !line[i - 1]) || (x < w - 1 && !line[i + 1]) || (y > 0 && !line[i - w]) || (y < h - 1 && !line[i + w]))) continue;
      if (inner && x >= radius && x < w - radius) {
        // Away from the image edge the stamp needs no bounds checks (most line pixels).
        for (let k = 0; k < m; k++) {
          const j = i + offset[k];
          if (!line[j] && (level[j] === 0 || level[j] < lev[k])) level[j] = lev[k];
        }
        continue;
      }
      for (let k = 0; k < m; k++) {
        const xx = x + sdx[k];
        const yy = y + sdy[k];
        if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
        const j = yy * w + xx;
        if (!line[j] && (level[j] === 0 || level[j] < lev[k])) level[j] = lev[k];
      }
    }
  }
  return level;
}

/**
 * Priority flood: labelled rooms grow into unlabelled free pixels, always taking the pixel farthest from the
 * lines first (lowest level number), first come first served within a level. One pass, bucket queues.
 */
function watershedGrow(labels: Int32Array, free: Uint8Array, level: Uint8Array, w: number, h: number, radius: number): void {
  const n = w * h;
  const levels = radius * radius + 2;
  const buckets: Int32Array[] = [];
  const heads = new Int32Array(levels);
  const tails = new Int32Array(levels);
  const counts = new Int32Array(levels);
  for (let i = 0; i < n; i++) if (free[i] && labels[i] === -1) counts[level[i]]++;
  for (let b = 0; b < levels; b++) buckets.push(new Int32Array(counts[b]));
  let current = levels;
  const push = (j: number, id: number): void => {
    labels[j] = id;
    const b = level[j];
    buckets[b][tails[b]++] = j;
    if (b < current) current = b;
  };
  // First ring: unlabelled free pixels (all near lines) touching a room.
  for (let i = 0; i < n; i++) {
    if (!free[i] || labels[i] !== -1) continue;
    const x = i % w;
    let id = -1;
    if (x > 0 && labels[i - 1] >= 0 && level[i - 1] === 0) id = labels[i - 1];
    else if (x < w - 1 && labels[i + 1] >= 0 && level[i + 1] === 0) id = labels[i + 1];
    else if (i >= w && labels[i - w] >= 0 && level[i - w] === 0) id = labels[i - w];
    else if (i < n - w && labels[i + w] >= 0 && level[i + w] === 0) id = labels[i + w];
    if (id >= 0) push(i, id);
  }
  while (current < levels) {
    if (heads[current] === tails[current]) {
      current++;
      continue;
    }
    const i = buckets[current][heads[current]++];
    const id = labels[i];
    const x = i % w;
    if (x > 0 && free[i - 1] && labels[i - 1] === -1) push(i - 1, id);
    if (x < w - 1 && free[i + 1] && labels[i + 1] === -1) push(i + 1, id);
    if (i >= w && free[i - w] && labels[i - w] === -1) push(i - w, id);
    if (i < n - w && free[i + w] && labels[i + w] === -1) push(i + w, id);
  }
}

/** Merges neck-split pieces (see `neckRatio`) and renumbers labels 0..count−1. Returns the new count. */
function mergeNeckSplits(labels: Int32Array, free: Uint8Array, w: number, h: number, count: number, ratio: number, level?: Uint8Array): number {
  const n = w * h;
  if (!level) return count; // without the ball nothing was split
  const area = new Float64Array(count);
  for (let i = 0; i < n; i++) if (labels[i] >= 0) area[labels[i]]++;
  // Free-to-free contacts between different labels: only pieces that touch without a line between them.
  // Rooms only meet where the watershed stopped, near lines (level > 0).
  const contact = new Map<number, number>();
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!level[i] || !free[i]) continue;
      const a = labels[i];
      if (x < w - 1 && free[i + 1] && labels[i + 1] !== a) bump(a, labels[i + 1]);
      if (y < h - 1 && free[i + w] && labels[i + w] !== a) bump(a, labels[i + w]);
    }
  }
  function bump(a: number, b: number): void {
    const key = a < b ? a * count + b : b * count + a;
    contact.set(key, (contact.get(key) ?? 0) + 1);
  }
  const parent = Int32Array.from({ length: count }, (_, k) => k);
  const find = (k: number): number => {
    while (parent[k] !== k) k = parent[k] = parent[parent[k]];
    return k;
  };
  if (contact.size) {
    const neighbours: { other: number; len: number }[][] = Array.from({ length: count }, () => []);
    for (const [key, len] of contact) {
      const a = Math.floor(key / count);
      const b = key % count;
      neighbours[a].push({ other: b, len });
      neighbours[b].push({ other: a, len });
    }
    // Smallest pieces first, each into the neighbour it shares the longest free boundary with.
    const order = [...neighbours.keys()].filter((k) => neighbours[k].length).sort((a, b) => area[a] - area[b]);
    for (const k of order) {
      const root = find(k);
      let best = -1;
      let bestLen = 0;
      for (const { other, len } of neighbours[k]) {
        if (find(other) !== root && len > bestLen) {
          best = other;
          bestLen = len;
        }
      }
      if (best < 0) continue;
      const other = find(best);
      if (bestLen / Math.sqrt(Math.min(area[root], area[other])) > ratio) {
        parent[root] = other;
        area[other] += area[root];
      }
    }
  }
  const remap = new Int32Array(count).fill(-1);
  let next = 0;
  for (let k = 0; k < count; k++) if (find(k) === k) remap[k] = next++;
  if (next === count) return count; // nothing merged: labels are already 0..count−1
  // Final label per old label once, then one table look-up per pixel (no union-find walk per pixel).
  const final = new Int32Array(count);
  for (let k = 0; k < count; k++) final[k] = remap[find(k)];
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    if (l >= 0) labels[i] = final[l];
  }
  return next;
}
