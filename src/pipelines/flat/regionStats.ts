// Per-region measurements used for matching: area, centroid, second moments, bounding box (over "core"
// pixels: fill, not line), and adjacency as shared boundary length in a label map where every pixel is
// labelled (so regions separated only by a line are neighbours).

export interface RegionStats {
  count: number;
  area: Float64Array;
  cx: Float64Array;
  cy: Float64Array;
  /** Central second moments divided by area. */
  sxx: Float64Array;
  syy: Float64Array;
  sxy: Float64Array;
  x0: Int32Array;
  y0: Int32Array;
  x1: Int32Array;
  y1: Int32Array;
}

export function regionStats(labels: Int32Array, core: Uint8Array, width: number, height: number, count: number): RegionStats {
  const area = new Float64Array(count);
  const sx = new Float64Array(count);
  const sy = new Float64Array(count);
  const sxx = new Float64Array(count);
  const syy = new Float64Array(count);
  const sxy = new Float64Array(count);
  const x0 = new Int32Array(count).fill(width);
  const y0 = new Int32Array(count).fill(height);
  const x1 = new Int32Array(count).fill(-1);
  const y1 = new Int32Array(count).fill(-1);
  // Labels are constant along long horizontal runs: accumulate each run in closed form.
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let x = 0;
    while (x < width) {
      const r = labels[row + x];
      if (!core[row + x] || r < 0) {
        x++;
        continue;
      }
      const xa = x;
      while (x < width && core[row + x] && labels[row + x] === r) x++;
      const len = x - xa;
      const xb = x - 1;
      const sumX = ((xa + xb) * len) / 2;
      // Σ k² for k = xa..xb.
      const sumX2 = (xb * (xb + 1) * (2 * xb + 1) - (xa - 1) * xa * (2 * xa - 1)) / 6;
      area[r] += len;
      sx[r] += sumX;
      sy[r] += y * len;
      sxx[r] += sumX2;
      syy[r] += y * y * len;
      sxy[r] += y * sumX;
      if (xa < x0[r]) x0[r] = xa;
      if (xb > x1[r]) x1[r] = xb;
      if (y < y0[r]) y0[r] = y;
      if (y > y1[r]) y1[r] = y;
    }
  }
  const cx = new Float64Array(count);
  const cy = new Float64Array(count);
  for (let r = 0; r < count; r++) {
    const a = area[r] || 1;
    cx[r] = sx[r] / a;
    cy[r] = sy[r] / a;
    sxx[r] = sxx[r] / a - cx[r] * cx[r];
    syy[r] = syy[r] / a - cy[r] * cy[r];
    sxy[r] = sxy[r] / a - cx[r] * cy[r];
  }
  return { count, area, cx, cy, sxx, syy, sxy, x0, y0, x1, y1 };
}

/**
 * For each region, its neighbours and the length of the shared boundary (4-adjacent pixel pairs). With a
 * `mark`, only the contacts at which it holds count: for `both` false, either pixel is marked (a
 * colour-trace line between two target regions); for `both` true, both are (two sheet fills that touch with
 * no outline between them — a shade and its base).
 */
export function regionAdjacency(labels: Int32Array, width: number, height: number, count: number, mark?: Uint8Array, both = false): Map<number, number>[] {
  const adj: Map<number, number>[] = Array.from({ length: count }, () => new Map());
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = row + x;
      const a = labels[i];
      if (a < 0) continue;
      const mi = mark ? mark[i] : 1;
      if (both && !mi) continue;
      if (x + 1 < width) {
        const b = labels[i + 1];
        if (b !== a && b >= 0 && (!mark || (both ? mark[i + 1] : mi || mark[i + 1]))) addContact(adj, a, b);
      }
      if (y + 1 < height) {
        const b = labels[i + width];
        if (b !== a && b >= 0 && (!mark || (both ? mark[i + width] : mi || mark[i + width]))) addContact(adj, a, b);
      }
    }
  }
  return adj;
}

function addContact(adj: Map<number, number>[], a: number, b: number): void {
  adj[a].set(b, (adj[a].get(b) ?? 0) + 1);
  adj[b].set(a, (adj[b].get(a) ?? 0) + 1);
}
