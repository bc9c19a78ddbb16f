// Reference interpreter: plain, slow, obvious execution of the IR in float64, used only by tests to
// check the ONNX emitter op by op (and, later, gradients by finite differences). Fused ops are
// decomposed first, so this file only knows primitives.
import { type Graph, type Shape, type Node, type DType, GraphError, numel, fmtShape } from './graph.ts';
import { lowerGraph } from './fused.ts';
import { f16BitsToF32 } from './half.ts';
import { type WeightStore, requireParam } from './weights.ts';

export interface HostTensor {
  shape: Shape;
  data: Float64Array;
}

export type Feed = { shape: Shape; data: ArrayLike<number> | BigInt64Array };

function fromBytes(dtype: DType, bytes: Uint8Array): Float64Array {
  const copy = bytes.slice();
  switch (dtype) {
    case 'f32': return Float64Array.from(new Float32Array(copy.buffer));
    case 'i64': return Float64Array.from(new BigInt64Array(copy.buffer), Number);
    case 'bool': return Float64Array.from(copy);
    case 'f16': return Float64Array.from(new Uint16Array(copy.buffer), f16BitsToF32);
  }
}

function strides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** For each flat index of `out`, the flat index into `inShape` under numpy broadcasting. */
function broadcastIndex(inShape: Shape, out: Shape): Int32Array {
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

const f32 = Math.fround;

const UNARY: Record<string, (x: number) => number> = {
  Neg: (x) => -x, Exp: Math.exp, Log: Math.log, Sqrt: Math.sqrt, Tanh: Math.tanh, Erf: erf,
  Sigmoid: (x) => 1 / (1 + Math.exp(-x)), Sin: Math.sin, Cos: Math.cos, Abs: Math.abs, Reciprocal: (x) => 1 / x,
};

const BINARY: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b, Sub: (a, b) => a - b, Mul: (a, b) => a * b, Div: (a, b) => a / b, Pow: Math.pow,
  Max: Math.max, Min: Math.min, Equal: (a, b) => +(a === b), Less: (a, b) => +(a < b), Greater: (a, b) => +(a > b),
};

/** erf to double precision: Maclaurin series near 0, continued fraction for erfc further out. */
function erf(x: number): number {
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

/** Runs `graph` on `feeds` with `weights`; returns every graph output. */
export function interpret(graph: Graph, feeds: Record<string, Feed>, weights: WeightStore): Record<string, HostTensor> {
  const g = lowerGraph(graph);
  const vals = new Map<number, Float64Array>();
  for (const v of g.values) {
    if (v.kind === 'input') {
      const f = feeds[v.name!];
      if (!f) throw new GraphError(`missing input "${v.name}"`);
      if (fmtShape(f.shape) !== fmtShape(v.shape)) throw new GraphError(`input "${v.name}" has shape ${fmtShape(f.shape)}, expected ${fmtShape(v.shape)}`);
      vals.set(v.id, f.data instanceof BigInt64Array ? Float64Array.from(f.data, Number) : Float64Array.from(f.data as ArrayLike<number>));
    } else if (v.kind === 'param') {
      vals.set(v.id, fromBytes(v.dtype, requireParam(weights, v.name!, v.dtype, v.shape).bytes));
    } else if (v.kind === 'const') {
      const c = g.consts.get(v.id)!;
      vals.set(v.id, fromBytes(c.dtype, new Uint8Array(c.data.buffer, c.data.byteOffset, c.data.byteLength)));
    }
  }
  for (const n of g.nodes) {
    const ins = n.inputs.map((id) => ({ shape: g.values[id].shape, data: vals.get(id)! }));
    const outShape = g.values[n.outputs[0]].shape;
    let out = runNode(n, ins, outShape);
    const dt = g.values[n.outputs[0]].dtype;
    // Emulate the storage precision of each intermediate so results track ORT's float32 closely.
    if (dt === 'f32') out = out.map(f32);
    vals.set(n.outputs[0], out);
  }
  const result: Record<string, HostTensor> = {};
  for (const o of g.outputs) result[o.name] = { shape: g.values[o.id].shape, data: vals.get(o.id)! };
  return result;
}

function runNode(n: Node, ins: HostTensor[], out: Shape): Float64Array {
  const a = n.attrs;
  const size = numel(out);
  const res = new Float64Array(size);
  if (n.op in UNARY) {
    const f = UNARY[n.op];
    ins[0].data.forEach((x, i) => (res[i] = f(x)));
    return res;
  }
  if (n.op in BINARY) {
    const f = BINARY[n.op];
    const ia = broadcastIndex(ins[0].shape, out);
    const ib = broadcastIndex(ins[1].shape, out);
    for (let i = 0; i < size; i++) res[i] = f(ins[0].data[ia[i]], ins[1].data[ib[i]]);
    return res;
  }
  switch (n.op) {
    case 'Cast': {
      const to = a.to as DType;
      ins[0].data.forEach((x, i) => (res[i] = to === 'i64' ? Math.trunc(x) : to === 'bool' ? +(x !== 0) : x));
      return res;
    }
    case 'Where': {
      const [ic, ia, ib] = ins.map((t) => broadcastIndex(t.shape, out));
      for (let i = 0; i < size; i++) res[i] = ins[0].data[ic[i]] ? ins[1].data[ia[i]] : ins[2].data[ib[i]];
      return res;
    }
    case 'MatMul': return matmul(ins[0], ins[1], out);
    case 'Conv': return conv(ins, out, a.strides as number[], a.pads as number[], a.dilations as number[], a.group as number);
    case 'ReduceSum': case 'ReduceMean': case 'ReduceMax': return reduce(n.op, ins[0], a.axes as number[], out);
    case 'Reshape': return ins[0].data.slice();
    case 'Expand': {
      const ix = broadcastIndex(ins[0].shape, out);
      for (let i = 0; i < size; i++) res[i] = ins[0].data[ix[i]];
      return res;
    }
    case 'Transpose': {
      const perm = a.perm as number[];
      const is = strides(ins[0].shape);
      return gatherByCoord(ins[0].data, out, (d, c) => c * is[perm[d]]);
    }
    case 'Slice': {
      const axes = a.axes as number[];
      const starts = a.starts as number[];
      const steps = a.steps as number[];
      const is = strides(ins[0].shape);
      return gatherByCoord(ins[0].data, out, (d, c) => {
        const k = axes.indexOf(d);
        return (k >= 0 ? starts[k] + c * steps[k] : c) * is[d];
      });
    }
    case 'Concat': {
      const axis = a.axis as number;
      const outer = numel(out.slice(0, axis));
      const inner = numel(out.slice(axis + 1));
      let pos = 0;
      for (let o = 0; o < outer; o++) {
        for (const t of ins) {
          const chunk = t.shape[axis] * inner;
          res.set(t.data.subarray(o * chunk, (o + 1) * chunk), pos);
          pos += chunk;
        }
      }
      return res;
    }
    case 'Softmax': {
      const axis = a.axis as number;
      const len = out[axis];
      const inner = numel(out.slice(axis + 1));
      const outer = numel(out.slice(0, axis));
      for (let o = 0; o < outer; o++) {
        for (let j = 0; j < inner; j++) {
          const base = o * len * inner + j;
          let m = -Infinity;
          for (let k = 0; k < len; k++) m = Math.max(m, ins[0].data[base + k * inner]);
          let s = 0;
          for (let k = 0; k < len; k++) s += (res[base + k * inner] = Math.exp(ins[0].data[base + k * inner] - m));
          for (let k = 0; k < len; k++) res[base + k * inner] /= s;
        }
      }
      return res;
    }
    case 'ResizeNearest': {
      const [sh, sw] = a.scales as number[];
      const [nn, c, h, w] = out;
      const iw = w / sw;
      const ih = h / sh;
      for (let b = 0; b < nn * c; b++) {
        for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) res[(b * h + y) * w + x] = ins[0].data[(b * ih + Math.floor(y / sh)) * iw + Math.floor(x / sw)];
      }
      return res;
    }
    case 'Gather': {
      const axis = a.axis as number;
      const [x, idx] = ins;
      const outer = numel(x.shape.slice(0, axis));
      const inner = numel(x.shape.slice(axis + 1));
      const dim = x.shape[axis];
      let pos = 0;
      for (let o = 0; o < outer; o++) {
        for (const raw of idx.data) {
          const k = raw < 0 ? raw + dim : raw;
          if (k < 0 || k >= dim) throw new GraphError(`Gather: index ${raw} out of range for axis of ${dim}`);
          res.set(x.data.subarray((o * dim + k) * inner, (o * dim + k + 1) * inner), pos);
          pos += inner;
        }
      }
      return res;
    }
    case 'ArgMax': {
      const axis = a.axis as number;
      const x = ins[0];
      const len = x.shape[axis];
      const inner = numel(x.shape.slice(axis + 1));
      const outer = numel(x.shape.slice(0, axis));
      for (let o = 0; o < outer; o++) {
        for (let j = 0; j < inner; j++) {
          let best = 0;
          for (let k = 1; k < len; k++) if (x.data[(o * len + k) * inner + j] > x.data[(o * len + best) * inner + j]) best = k;
          res[o * inner + j] = best;
        }
      }
      return res;
    }
  }
  throw new GraphError(`interpret: unknown op ${n.op}`);
}

/**
 * out[i] = src[Σ_d offset(d, coord_d)] over the output coordinates of i: the index arithmetic that
 * Transpose and Slice share (each says where output coordinate c along axis d sits in the input).
 */
function gatherByCoord(src: Float64Array, out: Shape, offset: (axis: number, coord: number) => number): Float64Array {
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

function matmul(x: HostTensor, y: HostTensor, out: Shape): Float64Array {
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

function conv(ins: HostTensor[], out: Shape, st: number[], pads: number[], dil: number[], group: number): Float64Array {
  const [x, w, b] = ins;
  const [nb, c, h, wd] = x.shape;
  const [o, ci, kh, kw] = w.shape;
  const [, , oh, ow] = out;
  const opg = o / group;
  const res = new Float64Array(numel(out));
  for (let n = 0; n < nb; n++) {
    for (let oc = 0; oc < o; oc++) {
      const gi = Math.floor(oc / opg);
      for (let y = 0; y < oh; y++) {
        for (let xx = 0; xx < ow; xx++) {
          let s = b ? b.data[oc] : 0;
          for (let icl = 0; icl < ci; icl++) {
            const ic = gi * ci + icl;
            for (let ky = 0; ky < kh; ky++) {
              const iy = y * st[0] - pads[0] + ky * dil[0];
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = xx * st[1] - pads[1] + kx * dil[1];
                if (ix < 0 || ix >= wd) continue;
                s += x.data[((n * c + ic) * h + iy) * wd + ix] * w.data[((oc * ci + icl) * kh + ky) * kw + kx];
              }
            }
          }
          res[((n * o + oc) * oh + y) * ow + xx] = s;
        }
      }
    }
  }
  return res;
}

function reduce(op: string, x: HostTensor, axes: number[], out: Shape): Float64Array {
  const keptShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const res = new Float64Array(numel(out)).fill(op === 'ReduceMax' ? -Infinity : 0);
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
    res[dst] = op === 'ReduceMax' ? Math.max(res[dst], x.data[i]) : res[dst] + x.data[i];
  }
  if (op === 'ReduceMean') for (let i = 0; i < res.length; i++) res[i] /= count;
  return res;
}
