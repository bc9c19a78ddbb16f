// The sampling positions and weights of torch.nn.functional.interpolate (align_corners False, no antialias)
// along one axis, shared by the 8-bit resize (resize.ts) and the float one (interpolate.ts):
//   nearest-exact  idx = min(floor((d + ½) · in/out), in − 1), in float32
//   bilinear       src = max(0, (d + ½) · in/out − ½), taps floor(src) and the next (clamped), weights 1 − t, t
//   bicubic        src = (d + ½) · in/out − ½ (not clamped), taps floor(src) − 1 … + 2 clamped, Keys' cubic a = −0.75
//   area           adaptive average pooling: [floor(d · in/out), ceil((d + 1) · in/out)) with equal weights
// and common_upscale's centre crop offsets (Python round, half to even).
import { roundHalfEven } from './threshold.ts';

export function nearestExactIndex(n: number, out: number): Int32Array {
  const scale = Math.fround(n / out);
  const idx = new Int32Array(out);
  for (let d = 0; d < out; d++) idx[d] = Math.min(Math.floor(Math.fround(Math.fround(d + 0.5) * scale)), n - 1);
  return idx;
}

/** common_upscale(crop="center"): columns (x) or rows (y) trimmed from each side so the aspect becomes `targetAspect`. */
export function centreCropOffsets(width: number, height: number, targetAspect: number): { x: number; y: number } {
  const oldAspect = width / height;
  let x = 0;
  let y = 0;
  if (oldAspect > targetAspect) x = roundHalfEven((width - width * (targetAspect / oldAspect)) / 2);
  else if (oldAspect < targetAspect) y = roundHalfEven((height - height * (oldAspect / targetAspect)) / 2);
  return { x, y };
}

/** Per output index: source indices and weights (already clamped to the image). */
export interface Taps {
  start: Int32Array; // offset into idx/wt for each output index
  idx: Int32Array;
  wt: Float64Array;
}

function buildTaps(out: number, fill: (d: number, idx: number[], wt: number[]) => void): Taps {
  const start = new Int32Array(out + 1);
  const idx: number[] = [];
  const wt: number[] = [];
  for (let d = 0; d < out; d++) {
    start[d] = idx.length;
    fill(d, idx, wt);
  }
  start[out] = idx.length;
  return { start, idx: Int32Array.from(idx), wt: Float64Array.from(wt) };
}

export function bilinearTaps(n: number, out: number): Taps {
  const scale = n / out;
  return buildTaps(out, (d, idx, wt) => {
    const src = Math.max(0, scale * (d + 0.5) - 0.5);
    const i0 = Math.floor(src);
    const i1 = i0 < n - 1 ? i0 + 1 : i0;
    const l1 = src - i0;
    idx.push(i0, i1);
    wt.push(1 - l1, l1);
  });
}

function cubicWeight(x: number): number {
  const A = -0.75;
  const t = Math.abs(x);
  if (t <= 1) return ((A + 2) * t - (A + 3)) * t * t + 1;
  if (t < 2) return ((A * t - 5 * A) * t + 8 * A) * t - 4 * A;
  return 0;
}

export function bicubicTaps(n: number, out: number): Taps {
  const scale = n / out;
  return buildTaps(out, (d, idx, wt) => {
    const src = scale * (d + 0.5) - 0.5;
    const i = Math.floor(src);
    const t = src - i;
    for (let k = -1; k <= 2; k++) {
      idx.push(Math.min(n - 1, Math.max(0, i + k)));
      wt.push(cubicWeight(t - k));
    }
  });
}

export function areaTaps(n: number, out: number): Taps {
  return buildTaps(out, (d, idx, wt) => {
    const s = Math.floor((d * n) / out);
    const e = Math.floor(((d + 1) * n + out - 1) / out);
    for (let i = s; i < e; i++) {
      idx.push(i);
      wt.push(1 / (e - s));
    }
  });
}
