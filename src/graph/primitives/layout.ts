// Data-movement primitives: Reshape, Transpose, Slice, Concat, Expand, Pad, ResizeNearest, Gather.
// Their VJPs move the gradient back where the data came from (a slice pads back, a concat slices,
// an expand sums, a gather scatters through a one-hot MatMul).
import { type Tensor, numel, fmtShape } from '../graph.ts';
import type { OpRecord } from '../opRecord.ts';
import type * as Ops from '../ops.ts';
import { broadcastIndex, gatherByCoord, strides } from '../hostKernels.ts';
import { broadcastShapes, fail, sameDType } from './typeRules.ts';
import { unbroadcast } from './unbroadcast.ts';
import { GraphError } from '../graph.ts';

/** Places `g` (the gradient of a step-`step` slice starting at `start` along `axis`) back into length `dim`. */
function unslice(op: typeof Ops, g: Tensor, axis: number, start: number, step: number, dim: number): Tensor {
  let t = g;
  const len = g.shape[axis];
  let span = len;
  if (step > 1) {
    // Interleave step−1 zeros after each element: [.., L, ..] → [.., L, 1, ..] → pad → [.., L·step, ..].
    const withUnit = [...t.shape.slice(0, axis + 1), 1, ...t.shape.slice(axis + 1)];
    const pads = new Array<number>(2 * withUnit.length).fill(0);
    pads[withUnit.length + axis + 1] = step - 1;
    t = op.reshape(op.pad(op.reshape(t, withUnit), pads), [...g.shape.slice(0, axis), len * step, ...g.shape.slice(axis + 1)]);
    span = len * step;
    if (start + span > dim) {
      span = dim - start;
      t = op.slice(t, [axis], [0], [span]);
    }
  }
  const pads = new Array<number>(2 * t.shape.length).fill(0);
  pads[axis] = start;
  pads[t.shape.length + axis] = dim - start - span;
  return pads.some((p) => p > 0) ? op.pad(t, pads) : t;
}

export const LAYOUT: Record<string, OpRecord> = {
  Reshape: {
    infer([x], attrs) {
      const shape = attrs.shape as number[];
      if (numel(shape) !== numel(x.shape)) fail('Reshape', `cannot reshape ${fmtShape(x.shape)} (${numel(x.shape)} elements) to ${fmtShape(shape)}`);
      return { dtype: x.dtype, shape };
    },
    emit: (c) => [c.node('Reshape', [], [c.input[0], c.i64(c.attrs.shape as number[])])],
    interpret: ([x]) => x.data.slice(),
    vjp: ({ op, grad, inputs: [x] }) => [op.reshape(grad, x.shape)],
  },

  Transpose: {
    infer([x], attrs) {
      const perm = attrs.perm as number[];
      const r = x.shape.length;
      if (perm.length !== r || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) fail('Transpose', `perm ${fmtShape(perm)} is not a permutation of rank ${r}`);
      return { dtype: x.dtype, shape: perm.map((p) => x.shape[p]) };
    },
    emit: (c) => [c.node('Transpose', [c.attr('perm', c.attrs.perm as number[], 'ints')])],
    interpret([x], attrs, out) {
      const perm = attrs.perm as number[];
      const is = strides(x.shape);
      return gatherByCoord(x.data, out, (d, c) => c * is[perm[d]]);
    },
    vjp({ op, grad, attrs }) {
      const perm = attrs.perm as number[];
      const inverse = perm.map((_, i) => perm.indexOf(i));
      return [op.transpose(grad, inverse)];
    },
  },

  // Static slice; attrs axes, starts (clamped, non-negative), ends, steps (positive).
  Slice: {
    infer([x], attrs) {
      const shape = [...x.shape];
      const axes = attrs.axes as number[];
      const starts = attrs.starts as number[];
      const ends = attrs.ends as number[];
      const steps = attrs.steps as number[];
      axes.forEach((a, i) => {
        if (a < 0 || a >= shape.length) fail('Slice', `axis ${a} out of range for ${fmtShape(x.shape)}`);
        if (ends[i] <= starts[i] || starts[i] < 0 || ends[i] > x.shape[a]) fail('Slice', `empty or out-of-range slice [${starts[i]}:${ends[i]}] on axis ${a} of ${fmtShape(x.shape)}`);
        shape[a] = Math.ceil((ends[i] - starts[i]) / steps[i]);
      });
      return { dtype: x.dtype, shape };
    },
    emit: (c) => [c.node('Slice', [], [c.input[0], c.i64(c.attrs.starts as number[]), c.i64(c.attrs.ends as number[]), c.i64(c.attrs.axes as number[]), c.i64(c.attrs.steps as number[])])],
    interpret([x], attrs, out) {
      const axes = attrs.axes as number[];
      const starts = attrs.starts as number[];
      const steps = attrs.steps as number[];
      const is = strides(x.shape);
      return gatherByCoord(x.data, out, (d, c) => {
        const k = axes.indexOf(d);
        return (k >= 0 ? starts[k] + c * steps[k] : c) * is[d];
      });
    },
    vjp({ op, grad, inputs: [x], attrs }) {
      const axes = attrs.axes as number[];
      let g = grad;
      axes.forEach((a, i) => (g = unslice(op, g, a, (attrs.starts as number[])[i], (attrs.steps as number[])[i], x.shape[a])));
      return [g];
    },
  },

  Concat: {
    infer(ins, attrs) {
      const a = attrs.axis as number;
      const r = ins[0].shape.length;
      const shape = [...ins[0].shape];
      shape[a] = 0;
      for (const t of ins) {
        sameDType('Concat', ins[0], t);
        if (t.shape.length !== r || t.shape.some((d, i) => i !== a && d !== ins[0].shape[i])) {
          fail('Concat', `shapes ${ins.map((u) => fmtShape(u.shape)).join(', ')} differ outside axis ${a}`);
        }
        shape[a] += t.shape[a];
      }
      return { dtype: ins[0].dtype, shape };
    },
    emit: (c) => [c.node('Concat', [c.attr('axis', c.attrs.axis as number, 'int')])],
    interpret(ins, attrs, out) {
      const axis = attrs.axis as number;
      const res = new Float64Array(numel(out));
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
    },
    vjp({ op, grad, inputs, attrs, wants }) {
      const axis = attrs.axis as number;
      let at = 0;
      return inputs.map((t, i) => {
        const start = at;
        at += t.shape[axis];
        return wants[i] ? op.slice(grad, [axis], [start], [at]) : undefined;
      });
    },
  },

  Expand: {
    infer: ([x], attrs) => ({ dtype: x.dtype, shape: broadcastShapes('Expand', x.shape, attrs.shape as number[]) }),
    emit: (c) => [c.node('Expand', [], [c.input[0], c.i64(c.attrs.shape as number[])])],
    interpret([x], _attrs, out) {
      const ix = broadcastIndex(x.shape, out);
      return Float64Array.from(ix, (i) => x.data[i]);
    },
    vjp: ({ op, grad, inputs: [x] }) => [unbroadcast(op, grad, x.shape)],
  },

  // Zero padding; attrs pads = [begin per axis…, end per axis…] (ONNX order), all ≥ 0.
  Pad: {
    infer([x], attrs) {
      const pads = attrs.pads as number[];
      const r = x.shape.length;
      if (pads.length !== 2 * r || pads.some((p) => !Number.isInteger(p) || p < 0)) fail('Pad', `pads ${fmtShape(pads)} must be ${2 * r} non-negative integers for ${fmtShape(x.shape)}`);
      return { dtype: x.dtype, shape: x.shape.map((d, i) => d + pads[i] + pads[r + i]) };
    },
    emit: (c) => [c.node('Pad', [c.attr('mode', 'constant', 'string')], [c.input[0], c.i64(c.attrs.pads as number[])])],
    interpret([x], attrs, out) {
      const pads = attrs.pads as number[];
      const res = new Float64Array(numel(out));
      const os = strides(out);
      const is = strides(x.shape);
      for (let i = 0; i < x.data.length; i++) {
        let rem = i;
        let at = 0;
        for (let d = 0; d < x.shape.length; d++) {
          const c = Math.floor(rem / is[d]);
          rem -= c * is[d];
          at += (c + pads[d]) * os[d];
        }
        res[at] = x.data[i];
      }
      return res;
    },
    vjp({ op, grad, inputs: [x], attrs }) {
      const pads = attrs.pads as number[];
      const axes = x.shape.map((_, i) => i).filter((i) => x.shape[i] !== grad.shape[i]);
      return [axes.length ? op.slice(grad, axes, axes.map((a) => pads[a]), axes.map((a) => pads[a] + x.shape[a])) : grad];
    },
  },

  // Nearest upsampling of the last two dims by integer factors; attr scales [sh, sw].
  ResizeNearest: {
    infer([x], attrs) {
      if (x.shape.length !== 4) fail('ResizeNearest', `input must be NCHW, got ${fmtShape(x.shape)}`);
      const [sh, sw] = attrs.scales as number[];
      const [n, c, h, w] = x.shape;
      return { dtype: x.dtype, shape: [n, c, h * sh, w * sw] };
    },
    emit(c) {
      const [sh, sw] = c.attrs.scales as number[];
      return [c.node('Resize', [c.attr('mode', 'nearest', 'string'), c.attr('coordinate_transformation_mode', 'asymmetric', 'string'), c.attr('nearest_mode', 'floor', 'string')], [c.input[0], '', c.f32([1, 1, sh, sw])])];
    },
    interpret([x], attrs, out) {
      const [sh, sw] = attrs.scales as number[];
      const [nn, c, h, w] = out;
      const res = new Float64Array(numel(out));
      const iw = w / sw;
      const ih = h / sh;
      for (let b = 0; b < nn * c; b++) {
        for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) res[(b * h + y) * w + xx] = x.data[(b * ih + Math.floor(y / sh)) * iw + Math.floor(xx / sw)];
      }
      return res;
    },
    // Each input pixel fed an sh×sw block: sum the gradient over the block.
    vjp({ op, grad, inputs: [x], attrs }) {
      const [sh, sw] = attrs.scales as number[];
      const [n, c, h, w] = x.shape;
      return [op.reshape(op.reduceSum(op.reshape(grad, [n, c, h, sh, w, sw]), [3, 5], false), x.shape)];
    },
  },

  // Gather(x, indices i64) along attr axis: out = x[:axis] + indices.shape + x[axis+1:].
  Gather: {
    infer([x, idx], attrs) {
      if (idx.dtype !== 'i64') fail('Gather', `indices must be i64, got ${idx.dtype}`);
      const a = attrs.axis as number;
      return { dtype: x.dtype, shape: [...x.shape.slice(0, a), ...idx.shape, ...x.shape.slice(a + 1)] };
    },
    emit: (c) => [c.node('Gather', [c.attr('axis', c.attrs.axis as number, 'int')])],
    interpret([x, idx], attrs, out) {
      const axis = attrs.axis as number;
      const res = new Float64Array(numel(out));
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
    },
    // Scatter-add as a MatMul: onehot(indices)ᵀ [dim, M] × gradient [outer, M, inner] → [outer, dim, inner].
    vjp({ op, grad, inputs: [x, idx], attrs }) {
      const axis = attrs.axis as number;
      const dim = x.shape[axis];
      const m = numel(idx.shape);
      const outer = numel(x.shape.slice(0, axis));
      const inner = numel(x.shape.slice(axis + 1));
      const flat = op.reshape(idx, [m, 1]);
      const wrapped = op.where(op.less(flat, 0), op.add(flat, dim), flat);
      const positions = op.constant(idx, Array.from({ length: dim }, (_, i) => i), [1, dim], 'i64');
      const onehotT = op.transpose(op.cast(op.equal(wrapped, positions), grad.dtype), [1, 0]);
      return [op.reshape(op.matmul(onehotT, op.reshape(grad, [outer, m, inner])), x.shape), undefined];
    },
  },
};
