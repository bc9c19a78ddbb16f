// comfy.utils.common_upscale on float tensors, without a round trip through 8 bit: an optional centre crop,
// then torch.nn.functional.interpolate (nearest-exact, bilinear, bicubic, area; align_corners False, no
// antialias) or ComfyUI's bislerp. Data is channels-last [n, h, w, c] (an IMAGE batch; a latent's planes are
// n = N·C with c = 1). Weights are applied in float64 and rounded to float32 once per pass (torch rounds per
// operation in float32: results agree to about 1e-7 relative).
import { areaTaps, bicubicTaps, bilinearTaps, centreCropOffsets, nearestExactIndex, type Taps } from './interpolationTaps.ts';

export type InterpolateMethod = 'nearest-exact' | 'bilinear' | 'bicubic' | 'area';
export type CropMode = 'disabled' | 'center';

export interface FloatPlanes {
  n: number;
  h: number;
  w: number;
  c: number;
  data: Float32Array;
}

/** common_upscale's crop: the centre part with the target aspect (no copy when nothing is cut). */
export function centreCropPlanes(p: FloatPlanes, outW: number, outH: number): FloatPlanes {
  const { x, y } = centreCropOffsets(p.w, p.h, outW / outH);
  if (x === 0 && y === 0) return p;
  const w = p.w - 2 * x;
  const h = p.h - 2 * y;
  if (w <= 0 || h <= 0) throw new Error(`centre crop of ${p.w}×${p.h} to ${outW}×${outH} leaves nothing`);
  const data = new Float32Array(p.n * h * w * p.c);
  for (let k = 0; k < p.n; k++) {
    for (let r = 0; r < h; r++) {
      const from = ((k * p.h + r + y) * p.w + x) * p.c;
      data.set(p.data.subarray(from, from + w * p.c), ((k * h + r) * w) * p.c);
    }
  }
  return { n: p.n, h, w, c: p.c, data };
}

function separable(p: FloatPlanes, outH: number, outW: number, taps: (n: number, out: number) => Taps): Float32Array {
  const { n, h, w, c } = p;
  const tx = taps(w, outW);
  const ty = taps(h, outH);
  const tmp = new Float32Array(h * outW * c);
  const out = new Float32Array(n * outH * outW * c);
  for (let k = 0; k < n; k++) {
    const base = k * h * w * c;
    for (let y = 0; y < h; y++) for (let x = 0; x < outW; x++) for (let ch = 0; ch < c; ch++) {
      let s = 0;
      for (let t = tx.start[x]; t < tx.start[x + 1]; t++) s += tx.wt[t] * p.data[base + (y * w + tx.idx[t]) * c + ch];
      tmp[(y * outW + x) * c + ch] = s;
    }
    const ob = k * outH * outW * c;
    for (let y = 0; y < outH; y++) for (let x = 0; x < outW; x++) for (let ch = 0; ch < c; ch++) {
      let s = 0;
      for (let t = ty.start[y]; t < ty.start[y + 1]; t++) s += ty.wt[t] * tmp[(ty.idx[t] * outW + x) * c + ch];
      out[ob + (y * outW + x) * c + ch] = s;
    }
  }
  return out;
}

function nearest(p: FloatPlanes, outH: number, outW: number): Float32Array {
  const { n, h, w, c } = p;
  const xs = nearestExactIndex(w, outW);
  const ys = nearestExactIndex(h, outH);
  const out = new Float32Array(n * outH * outW * c);
  for (let k = 0; k < n; k++) for (let y = 0; y < outH; y++) for (let x = 0; x < outW; x++) {
    const s = ((k * h + ys[y]) * w + xs[x]) * c;
    out.set(p.data.subarray(s, s + c), ((k * outH + y) * outW + x) * c);
  }
  return out;
}

/** torch.nn.functional.interpolate(size=(outH, outW), mode) on every plane. */
export function interpolatePlanes(p: FloatPlanes, outH: number, outW: number, method: InterpolateMethod): FloatPlanes {
  if (!Number.isInteger(outH) || !Number.isInteger(outW) || outH < 1 || outW < 1) throw new Error(`interpolate: output size must be positive integers, got ${outW}×${outH}`);
  const data = method === 'nearest-exact' ? nearest(p, outH, outW)
    : method === 'bilinear' ? separable(p, outH, outW, bilinearTaps)
    : method === 'bicubic' ? separable(p, outH, outW, bicubicTaps)
    : method === 'area' ? separable(p, outH, outW, areaTaps)
    : undefined;
  if (!data) throw new Error(`interpolate: unknown method ${String(method)}`);
  return { n: p.n, h: outH, w: outW, c: p.c, data };
}

// --- bislerp (comfy/utils.py): bilinear positions, spherical interpolation of each pixel's channel vector ---

/**
 * generate_bilinear_data: for each output index, the two source indices and the ratio between them, from a
 * float32 bilinear resize of arange(n) (and of arange(n) + 1 with the last entry kept at n − 1).
 */
function bislerpAxis(n: number, out: number): { i1: Int32Array; i2: Int32Array; ratio: Float32Array } {
  const taps = bilinearTaps(n, out);
  const f = Math.fround;
  const lerp = (v: (i: number) => number, d: number) => {
    const a = taps.start[d];
    const [j0, j1] = [taps.idx[a], taps.idx[a + 1]];
    const [w0, w1] = [f(taps.wt[a]), f(taps.wt[a + 1])];
    return f(f(w0 * v(j0)) + f(w1 * v(j1)));
  };
  const i1 = new Int32Array(out);
  const i2 = new Int32Array(out);
  const ratio = new Float32Array(out);
  for (let d = 0; d < out; d++) {
    const c1 = lerp((j) => j, d);
    ratio[d] = f(c1 - Math.floor(c1));
    i1[d] = Math.trunc(c1);
    i2[d] = Math.trunc(lerp((j) => (j === n - 1 ? n - 1 : j + 1), d));
  }
  return { i1, i2, ratio };
}

/** slerp of two channel vectors with ratio r, ComfyUI's variant (norms interpolated linearly, edge cases). */
function slerp(b1: Float32Array, b2: Float32Array, r: number, out: Float32Array): void {
  const c = b1.length;
  const f = Math.fround;
  let n1 = 0;
  let n2 = 0;
  for (let k = 0; k < c; k++) {
    n1 += b1[k] * b1[k];
    n2 += b2[k] * b2[k];
  }
  n1 = f(Math.sqrt(n1));
  n2 = f(Math.sqrt(n2));
  let dot = 0;
  for (let k = 0; k < c; k++) dot += (n1 === 0 ? 0 : f(b1[k] / n1)) * (n2 === 0 ? 0 : f(b2[k] / n2));
  dot = f(dot);
  if (dot > 1 - 1e-5) {
    out.set(b1);
    return;
  }
  if (dot < 1e-5 - 1) {
    for (let k = 0; k < c; k++) out[k] = f(f(b1[k] * f(1 - r)) + f(b2[k] * r));
    return;
  }
  const omega = Math.acos(dot);
  const so = Math.sin(omega);
  const s1 = f(Math.sin(f(1 - r) * omega) / so);
  const s2 = f(Math.sin(r * omega) / so);
  const norm = f(f(n1 * f(1 - r)) + f(n2 * r));
  for (let k = 0; k < c; k++) out[k] = f(f(f(s1 * (n1 === 0 ? 0 : f(b1[k] / n1))) + f(s2 * (n2 === 0 ? 0 : f(b2[k] / n2)))) * norm);
}

/** ComfyUI's bislerp of an NCHW tensor: slerp along the width, then along the height, over the channel vectors. */
export function bislerp(data: Float32Array, shape: readonly [number, number, number, number], outH: number, outW: number): Float32Array {
  const [n, c, h, w] = shape;
  const ax = bislerpAxis(w, outW);
  const ay = bislerpAxis(h, outH);
  const b1 = new Float32Array(c);
  const b2 = new Float32Array(c);
  const res = new Float32Array(c);
  const mid = new Float32Array(n * c * h * outW);
  for (let k = 0; k < n; k++) for (let y = 0; y < h; y++) for (let x = 0; x < outW; x++) {
    for (let ch = 0; ch < c; ch++) {
      const row = ((k * c + ch) * h + y) * w;
      b1[ch] = data[row + ax.i1[x]];
      b2[ch] = data[row + ax.i2[x]];
    }
    slerp(b1, b2, ax.ratio[x], res);
    for (let ch = 0; ch < c; ch++) mid[((k * c + ch) * h + y) * outW + x] = res[ch];
  }
  const out = new Float32Array(n * c * outH * outW);
  for (let k = 0; k < n; k++) for (let y = 0; y < outH; y++) for (let x = 0; x < outW; x++) {
    for (let ch = 0; ch < c; ch++) {
      const plane = (k * c + ch) * h * outW;
      b1[ch] = mid[plane + ay.i1[y] * outW + x];
      b2[ch] = mid[plane + ay.i2[y] * outW + x];
    }
    slerp(b1, b2, ay.ratio[y], res);
    for (let ch = 0; ch < c; ch++) out[((k * c + ch) * outH + y) * outW + x] = res[ch];
  }
  return out;
}
