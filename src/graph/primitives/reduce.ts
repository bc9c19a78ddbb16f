// Reductions over static axes, Softmax and ArgMax.
import { type Attrs, type Shape, type Tensor, numel, fmtShape } from '../graph.ts';
import type { OpRecord, VjpContext } from '../opRecord.ts';
import { reduceKernel } from '../hostKernels.ts';
import { fail } from './typeRules.ts';

/** The output gradient broadcast back over the reduced axes (keepdims shape, then Expand). */
function spread({ op, grad, inputs: [x], attrs }: VjpContext): Tensor {
  const axes = attrs.axes as number[];
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return op.expand(op.reshape(grad, kept), x.shape);
}

function reduceRecord(name: string, kind: 'sum' | 'mean' | 'max', vjp: OpRecord['vjp']): OpRecord {
  return {
    infer([x], attrs: Attrs) {
      const ax = attrs.axes as number[];
      for (const a of ax) if (a < 0 || a >= x.shape.length) fail(name, `axis ${a} out of range for ${fmtShape(x.shape)}`);
      const shape: Shape = attrs.keepdims ? x.shape.map((d, i) => (ax.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !ax.includes(i));
      return { dtype: x.dtype, shape };
    },
    emit: (c) => [c.node(name, [c.attr('keepdims', c.attrs.keepdims as number, 'int')], [c.input[0], c.i64(c.attrs.axes as number[])])],
    interpret: ([x], attrs, out) => reduceKernel(kind, x, attrs.axes as number[], out),
    vjp,
  };
}

export const REDUCE: Record<string, OpRecord> = {
  ReduceSum: reduceRecord('ReduceSum', 'sum', (c) => [spread(c)]),
  ReduceMean: reduceRecord('ReduceMean', 'mean', (c) => {
    const count = (c.attrs.axes as number[]).reduce((n, a) => n * c.inputs[0].shape[a], 1);
    return [c.op.mul(spread(c), 1 / count)];
  }),
  // The gradient goes to the maximal elements, split evenly between ties.
  ReduceMax: reduceRecord('ReduceMax', 'max', (c) => {
    const { op, inputs: [x], attrs, output } = c;
    const axes = attrs.axes as number[];
    const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const mask = op.cast(op.equal(x, op.expand(op.reshape(output, kept), x.shape)), x.dtype);
    const ties = op.reduceSum(mask, axes, true);
    return [op.mul(spread(c), op.div(mask, ties))];
  }),

  Softmax: {
    infer([x], attrs) {
      const a = attrs.axis as number;
      if (a < 0 || a >= x.shape.length) fail('Softmax', `axis ${a} out of range for ${fmtShape(x.shape)}`);
      return { dtype: x.dtype, shape: x.shape };
    },
    emit: (c) => [c.node('Softmax', [c.attr('axis', c.attrs.axis as number, 'int')])],
    interpret([x], attrs, out) {
      const axis = attrs.axis as number;
      const res = new Float64Array(numel(out));
      const len = out[axis];
      const inner = numel(out.slice(axis + 1));
      const outer = numel(out.slice(0, axis));
      for (let o = 0; o < outer; o++) {
        for (let j = 0; j < inner; j++) {
          const base = o * len * inner + j;
          let m = -Infinity;
          for (let k = 0; k < len; k++) m = Math.max(m, x.data[base + k * inner]);
          let s = 0;
          for (let k = 0; k < len; k++) s += (res[base + k * inner] = Math.exp(x.data[base + k * inner] - m));
          for (let k = 0; k < len; k++) res[base + k * inner] /= s;
        }
      }
      return res;
    },
    // dx = y ⊙ (g − Σ_axis g⊙y).
    vjp: ({ op, grad, output: y, attrs }) => [op.mul(y, op.sub(grad, op.reduceSum(op.mul(grad, y), [attrs.axis as number], true)))],
  },

  ArgMax: {
    infer([x], attrs) {
      const a = attrs.axis as number;
      return { dtype: 'i64', shape: attrs.keepdims ? x.shape.map((d, i) => (i === a ? 1 : d)) : x.shape.filter((_, i) => i !== a) };
    },
    emit: (c) => [c.node('ArgMax', [c.attr('axis', c.attrs.axis as number, 'int'), c.attr('keepdims', c.attrs.keepdims as number, 'int')])],
    interpret([x], attrs, out) {
      const axis = attrs.axis as number;
      const res = new Float64Array(numel(out));
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
    },
    vjp: 'none',
  },
};
