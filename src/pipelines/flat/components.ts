// Label-map building blocks shared by the line-art and reference segmentations: 4-connected components
// (scanline runs + union-find, far faster than a per-pixel flood on large images) and breadth-first growth
// of existing labels into unlabelled pixels.

/**
 * Gives every 4-connected component of pixels with `eligible[i] = 1`, `labels[i] = −1` and equal `key[i]`
 * (when a key array is given) a fresh label, starting at `nextLabel`, numbered in scan order of their first
 * pixel. Returns the next free label.
 */
export function labelComponents(
  eligible: Uint8Array, labels: Int32Array, width: number, height: number, nextLabel: number, key?: Int32Array,
): number {
  // Runs: maximal horizontal spans of candidate pixels with one key.
  let cap = 1024;
  let runStart: Int32Array<ArrayBuffer> = new Int32Array(cap);
  let runEnd: Int32Array<ArrayBuffer> = new Int32Array(cap);
  let parent: Int32Array<ArrayBuffer> = new Int32Array(cap);
  let runs = 0;
  const rowFirst = new Int32Array(height + 1);
  const find = (k: number): number => {
    while (parent[k] !== k) k = parent[k] = parent[parent[k]];
    return k;
  };
  for (let y = 0; y < height; y++) {
    rowFirst[y] = runs;
    const row = y * width;
    let x = 0;
    while (x < width) {
      const i = row + x;
      if (!eligible[i] || labels[i] !== -1) {
        x++;
        continue;
      }
      const k = key ? key[i] : 0;
      let e = x + 1;
      while (e < width && eligible[row + e] && labels[row + e] === -1 && (!key || key[row + e] === k)) e++;
      if (runs === cap) {
        cap *= 2;
        runStart = grow(runStart, cap);
        runEnd = grow(runEnd, cap);
        parent = grow(parent, cap);
      }
      runStart[runs] = row + x;
      runEnd[runs] = row + e;
      parent[runs] = runs;
      runs++;
      x = e;
    }
  }
  rowFirst[height] = runs;
  // Union runs of consecutive rows that overlap in x (and share the key): two-pointer sweep.
  for (let y = 1; y < height; y++) {
    let a = rowFirst[y - 1];
    const aEnd = rowFirst[y];
    const off = width;
    for (let b = rowFirst[y]; b < rowFirst[y + 1]; b++) {
      const bs = runStart[b] - off;
      const be = runEnd[b] - off;
      while (a < aEnd && runEnd[a] <= bs) a++;
      for (let c = a; c < aEnd && runStart[c] < be; c++) {
        if (key && key[runStart[c]] !== key[runStart[b]]) continue;
        const ra = find(c);
        const rb = find(b);
        if (ra !== rb) {
          if (ra < rb) parent[rb] = ra;
          else parent[ra] = rb;
        }
      }
    }
  }
  const idOf = new Int32Array(runs).fill(-1);
  for (let r = 0; r < runs; r++) {
    const root = find(r);
    if (idOf[root] === -1) idOf[root] = nextLabel++;
    labels.fill(idOf[root], runStart[r], runEnd[r]);
  }
  return nextLabel;
}

function grow(a: Int32Array, cap: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(cap);
  b.set(a);
  return b;
}

/**
 * Grows labels ≥ 0 into 4-neighbouring pixels with label −1 (and `passable[i] = 1`, when given), breadth
 * first, so each pixel takes the label that reaches it first (nearest in 4-steps).
 */
export function growLabels(labels: Int32Array, width: number, height: number, passable?: Uint8Array): void {
  const n = width * height;
  let qt = 0;
  let queue: Int32Array<ArrayBuffer> = new Int32Array(1024);
  // First ring: unlabelled pixels next to a labelled one (scanning only the unlabelled pixels is cheap).
  const first: number[] = [];
  for (let i = 0; i < n; i++) {
    if (labels[i] !== -1 || (passable && !passable[i])) continue;
    const x = i % width;
    let id = -1;
    if (x > 0 && labels[i - 1] >= 0) id = labels[i - 1];
    else if (x < width - 1 && labels[i + 1] >= 0) id = labels[i + 1];
    else if (i >= width && labels[i - width] >= 0) id = labels[i - width];
    else if (i < n - width && labels[i + width] >= 0) id = labels[i + width];
    if (id >= 0) first.push(i, id);
  }
  for (let k = 0; k < first.length; k += 2) {
    if (qt === queue.length) queue = grow(queue, qt * 2);
    labels[first[k]] = first[k + 1];
    queue[qt++] = first[k];
  }
  for (let qh = 0; qh < qt; qh++) {
    if (qt + 4 > queue.length) queue = grow(queue, queue.length * 2);
    const i = queue[qh];
    const id = labels[i];
    const x = i % width;
    let j = i - 1;
    if (x > 0 && labels[j] === -1 && (!passable || passable[j])) { labels[j] = id; queue[qt++] = j; }
    j = i + 1;
    if (x < width - 1 && labels[j] === -1 && (!passable || passable[j])) { labels[j] = id; queue[qt++] = j; }
    j = i - width;
    if (j >= 0 && labels[j] === -1 && (!passable || passable[j])) { labels[j] = id; queue[qt++] = j; }
    j = i + width;
    if (j < n && labels[j] === -1 && (!passable || passable[j])) { labels[j] = id; queue[qt++] = j; }
  }
}
