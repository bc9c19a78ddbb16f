// Where a target region lands on the sheet once aligned: the share of its pixels that fall on the sheet's
// background (paper, an enclosed pocket, or outside the sheet). A corner of paper cut off by a tail at the
// frame edge lands on the sheet's paper beside that tail, while the tail lands on the tail; the background
// decision weighs this with its other cues (a raised arm lands on paper too, but is shaped and surrounded
// like an arm).
import type { Alignment } from './match.ts';

export interface SheetLayout {
  labels: Int32Array;
  width: number;
  height: number;
  /** Per sheet region: true for background (paper, pockets). */
  isBackground: ArrayLike<boolean>;
}

export interface TargetLayout {
  labels: Int32Array;
  /** 1 on line pixels (not sampled). */
  line: Uint8Array;
  width: number;
  height: number;
  count: number;
}

/** Per target region, the share of its (every `step`-th, non-line) pixels that map onto sheet background. */
export function sheetBackgroundShare(target: TargetLayout, sheet: SheetLayout, a: Alignment, step = 2): Float64Array {
  const total = new Float64Array(target.count);
  const onPaper = new Float64Array(target.count);
  const sx = a.mirror ? -a.s : a.s;
  for (let y = 0; y < target.height; y += step) {
    const ry = Math.round(a.s * y + a.ty);
    const rowOut = ry < 0 || ry >= sheet.height;
    for (let x = 0; x < target.width; x += step) {
      const i = y * target.width + x;
      if (target.line[i]) continue;
      const t = target.labels[i];
      if (t < 0) continue;
      total[t]++;
      const rx = Math.round(sx * x + a.tx);
      if (rowOut || rx < 0 || rx >= sheet.width || sheet.isBackground[sheet.labels[ry * sheet.width + rx]]) onPaper[t]++;
    }
  }
  for (let t = 0; t < target.count; t++) onPaper[t] = total[t] ? onPaper[t] / total[t] : 0;
  return onPaper;
}
