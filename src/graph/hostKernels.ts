// Float64 kernels of the reference interpreter: plain loops a reader can check against the op's
// definition. Used by the op records' interpret(); speed does not matter, only obviousness.
import { type Shape, numel } from './graph.ts';
import type { HostTensor } from './opRecord.ts';

export function strides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** For each flat index of `out`, the flat index into `inShape` under numpy broadcasting. */
export function broadcastIndex(inShape: Shape, out: Shape): Int32Array {
  const n = numel(out);
  const idx = new Int32Array(n);
  const off = out.length - inShape.length;
  const is = strides(inShape);
  const os = strides(out);
  for (let i = 0; i < n; i++) {
    let rem = i;
    let src = 0;
    for (let d = 0; d < out.length; d++) {
      const c = Math.floor(rem / os[d]);
      rem -= c * os[d];
      const di = d - off;
      if (di >= 0 && inShape[di] !== 1) src += c * is[di];
    }
    idx[i] = src;
  }
  return idx;
}

/**
 * out[i] = src[Σ_d offset(d, coord_d)] over the output coordinates of i: the index arithmetic that
 * Transpose and Slice share (each says where output coordinate c along axis d sits in the input).
 */
export function gatherByCoord(src: Float64Array, out: Shape, offset: (axis: number, coord: number) => number): Float64Array {
  const size = numel(out);
  const os = strides(out);
  const res = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    let rem = i;
    let at = 0;
    for (let d = 0; d < out.length; d++) {
      const c = Math.floor(rem / os[d]);
      rem -= c * os[d];
      at += offset(d, c);
    }
    res[i] = src[at];
  }
  return res;
}

/** erf to double precision: Maclaurin series near 0, continued fraction for erfc further out. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series: converges quickly for |x| < 2.5 in double precision.
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 100; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // Continued fraction for erfc at larger |x|.
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

export function matmulKernel(x: HostTensor, y: HostTensor, out: Shape): Float64Array {
  const [m, n] = out.slice(-2);
  const k = x.shape[x.shape.length - 1];
  const batchShape = out.slice(0, -2);
  const nb = numel(batchShape);
  const ix = broadcastIndex([...x.shape.slice(0, -2)], batchShape);
  const iy = broadcastIndex([...y.shape.slice(0, -2)], batchShape);
  const res = new Float64Array(numel(out));
  for (let b = 0; b < nb; b++) {
    const xo = ix[b] * m * k;
    const yo = iy[b] * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) s += x.data[xo + i * k + t] * y.data[yo + t * n + j];
        res[(b * m + i) * n + j] = s;
      }
    }
  }
  return res;
}

export interface ConvGeometry {
  strides: readonly number[];
  pads: readonly number[];
  dilations: readonly number[];
  group: number;
}

/**
 * Visits every (input pixel, weight tap, output pixel) triple of a 2-D convolution with input [N,C,H,W],
 * weight [O,C/group,kh,kw] and output [N,O,oh,ow]: `visit(xIndex, wIndex, yIndex)`. Conv sums x·w into y;
 * ConvTranspose (the adjoint) sums y·w into x with the roles of the two activations exchanged.
 */
export function forEachConvTap(xShape: Shape, wShape: Shape, yShape: Shape, geo: ConvGeometry, visit: (xi: number, wi: number, yi: number) => void): void {
  const [nb, c, h, wd] = xShape;
  const [o, ci, kh, kw] = wShape;
  const [, , oh, ow] = yShape;
  const { strides: st, pads, dilations: dil, group } = geo;
  const opg = o / group;
  for (let n = 0; n < nb; n++) {
    for (let oc = 0; oc < o; oc++) {
      const gi = Math.floor(oc / opg);
      for (let y = 0; y < oh; y++) {
        for (let xx = 0; xx < ow; xx++) {
          const yi = ((n * o + oc) * oh + y) * ow + xx;
          for (let icl = 0; icl < ci; icl++) {
            const ic = gi * ci + icl;
            for (let ky = 0; ky < kh; ky++) {
              const iy = y * st[0] - pads[0] + ky * dil[0];
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = xx * st[1] - pads[1] + kx * dil[1];
                if (ix < 0 || ix >= wd) continue;
                visit(((n * c + ic) * h + iy) * wd + ix, ((oc * ci + icl) * kh + ky) * kw + kx, yi);
              }
            }
          }
        }
      }
    }
  }
}

/** Reduction over `axes` (sorted, non-negative) into the kept shape `out`. */
export function reduceKernel(op: 'sum' | 'mean' | 'max', x: HostTensor, axes: readonly number[], out: Shape): Float64Array {
  const keptShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const res = new Float64Array(numel(out)).fill(op === 'max' ? -Infinity : 0);
  const xs = strides(x.shape);
  const ks = strides(keptShape);
  let count = 1;
  for (const a of axes) count *= x.shape[a];
  for (let i = 0; i < x.data.length; i++) {
    let rem = i;
    let dst = 0;
    for (let d = 0; d < x.shape.length; d++) {
      const c = Math.floor(rem / xs[d]);
      rem -= c * xs[d];
      if (!axes.includes(d)) dst += c * ks[d];
    }
    res[dst] = op === 'max' ? Math.max(res[dst], x.data[i]) : res[dst] + x.data[i];
  }
  if (op === 'mean') for (let i = 0; i < res.length; i++) res[i] /= count;
  return res;
}
