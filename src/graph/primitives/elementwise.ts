// Elementwise primitives: binary arithmetic and comparisons (numpy broadcasting), Where, unary maths
// and Cast. Each record carries its type rule, ONNX emission, float64 interpretation and VJP.
import type { Attrs, DType, Tensor } from '../graph.ts';
import type { OpRecord, Vjp, VjpContext } from '../opRecord.ts';
import { ELEM } from '../onnxNames.ts';
import { broadcastIndex, erf } from '../hostKernels.ts';
import { numel } from '../graph.ts';
import { broadcastShapes, fail, isFloat, sameDType } from './typeRules.ts';
import { unbroadcast } from './unbroadcast.ts';

function binaryRecord(name: string, f: (a: number, b: number) => number, vjp: Vjp | 'none', compare = false): OpRecord {
  return {
    infer([a, b]) {
      sameDType(name, a, b);
      return { dtype: compare ? 'bool' : a.dtype, shape: broadcastShapes(name, a.shape, b.shape) };
    },
    emit: (c) => [c.node(name)],
    interpret([a, b], _attrs, out) {
      const size = numel(out);
      const res = new Float64Array(size);
      const ia = broadcastIndex(a.shape, out);
      const ib = broadcastIndex(b.shape, out);
      for (let i = 0; i < size; i++) res[i] = f(a.data[ia[i]], b.data[ib[i]]);
      return res;
    },
    vjp,
  };
}

/** Gradients g·∂out/∂a and g·∂out/∂b (in the broadcast shape), reduced back to each operand's shape. */
function binaryVjp(partials: (c: VjpContext, a: Tensor, b: Tensor) => [() => Tensor, () => Tensor]): Vjp {
  return (c) => {
    const [a, b] = c.inputs;
    const [da, db] = partials(c, a, b);
    return [!c.wants[0] ? undefined : unbroadcast(c.op, da(), a.shape), !c.wants[1] ? undefined : unbroadcast(c.op, db(), b.shape)];
  };
}

/** Max/Min: the gradient goes to the selected operand; ties split it evenly (torch does the same). */
function selectVjp(pick: 'greater' | 'less'): Vjp {
  return binaryVjp(({ op, grad: g }, a, b) => {
    const share = () => {
      const one = op.scalar(g, 1);
      const zero = op.scalar(g, 0);
      return op.where(op[pick](a, b), one, op.where(op.equal(a, b), op.scalar(g, 0.5), zero));
    };
    return [() => op.mul(g, share()), () => op.mul(g, op.sub(op.scalar(g, 1), share()))];
  });
}

function unaryRecord(name: string, f: (x: number) => number, vjp: Vjp, intOk = false): OpRecord {
  return {
    infer([x]) {
      if (!intOk && !isFloat(x.dtype)) fail(name, `needs a float input, got ${x.dtype}`);
      if (intOk && x.dtype === 'bool') fail(name, `needs a numeric input, got ${x.dtype}`);
      return { dtype: x.dtype, shape: x.shape };
    },
    emit: (c) => [c.node(name)],
    interpret: ([x]) => x.data.map(f),
    vjp,
  };
}

/** Rule for y = f(x) with dy/dx expressed from x and y: g·dy/dx. */
const chain = (deriv: (c: VjpContext, x: Tensor, y: Tensor) => Tensor): Vjp => (c) => [c.op.mul(c.grad, deriv(c, c.inputs[0], c.output))];

export const ELEMENTWISE: Record<string, OpRecord> = {
  Add: binaryRecord('Add', (a, b) => a + b, binaryVjp(({ grad }) => [() => grad, () => grad])),
  Sub: binaryRecord('Sub', (a, b) => a - b, binaryVjp(({ grad, op }) => [() => grad, () => op.neg(grad)])),
  Mul: binaryRecord('Mul', (a, b) => a * b, binaryVjp(({ grad, op }, a, b) => [() => op.mul(grad, b), () => op.mul(grad, a)])),
  // d(a/b)/db = −a/b² = −out/b.
  Div: binaryRecord('Div', (a, b) => a / b, binaryVjp(({ grad, op, output }, _a, b) => [() => op.div(grad, b), () => op.neg(op.div(op.mul(grad, output), b))])),
  // d(aᵇ)/da = b·aᵇ⁻¹; d(aᵇ)/db = aᵇ·ln a (defined for a > 0; 0 elsewhere, where aᵇ is real only for integer b).
  Pow: binaryRecord('Pow', Math.pow, binaryVjp(({ grad, op, output }, a, b) => [
    () => op.mul(grad, op.mul(b, op.pow(a, op.sub(b, op.scalar(b, 1))))),
    () => op.mul(grad, op.where(op.greater(a, 0), op.mul(output, op.log(a)), op.scalar(a, 0))),
  ])),
  Max: binaryRecord('Max', Math.max, selectVjp('greater')),
  Min: binaryRecord('Min', Math.min, selectVjp('less')),
  Equal: binaryRecord('Equal', (a, b) => +(a === b), 'none', true),
  Less: binaryRecord('Less', (a, b) => +(a < b), 'none', true),
  Greater: binaryRecord('Greater', (a, b) => +(a > b), 'none', true),

  Where: {
    infer([cond, a, b]) {
      if (cond.dtype !== 'bool') fail('Where', `condition must be bool, got ${cond.dtype}`);
      sameDType('Where', a, b);
      return { dtype: a.dtype, shape: broadcastShapes('Where', broadcastShapes('Where', cond.shape, a.shape), b.shape) };
    },
    emit: (c) => [c.node('Where')],
    interpret(ins, _attrs, out) {
      const size = numel(out);
      const res = new Float64Array(size);
      const [ic, ia, ib] = ins.map((t) => broadcastIndex(t.shape, out));
      for (let i = 0; i < size; i++) res[i] = ins[0].data[ic[i]] ? ins[1].data[ia[i]] : ins[2].data[ib[i]];
      return res;
    },
    vjp: ({ op, grad, inputs: [cond, a, b] }) => {
      const zero = op.scalar(grad, 0);
      return [undefined, unbroadcast(op, op.where(cond, grad, zero), a.shape), unbroadcast(op, op.where(cond, zero, grad), b.shape)];
    },
  },

  Neg: unaryRecord('Neg', (x) => -x, ({ op, grad }) => [op.neg(grad)], true),
  Exp: unaryRecord('Exp', Math.exp, chain((_c, _x, y) => y)),
  Log: unaryRecord('Log', Math.log, ({ op, grad, inputs: [x] }) => [op.div(grad, x)]),
  Sqrt: unaryRecord('Sqrt', Math.sqrt, ({ op, grad, output }) => [op.div(op.mul(grad, 0.5), output)]),
  Tanh: unaryRecord('Tanh', Math.tanh, chain(({ op }, _x, y) => op.sub(op.scalar(y, 1), op.mul(y, y)))),
  // d erf(x)/dx = 2/√π · e^(−x²).
  Erf: unaryRecord('Erf', erf, chain(({ op }, x) => op.mul(op.exp(op.neg(op.mul(x, x))), 2 / Math.sqrt(Math.PI)))),
  Sigmoid: unaryRecord('Sigmoid', (x) => 1 / (1 + Math.exp(-x)), chain(({ op }, _x, y) => op.mul(y, op.sub(op.scalar(y, 1), y)))),
  Sin: unaryRecord('Sin', Math.sin, chain(({ op }, x) => op.cos(x))),
  Cos: unaryRecord('Cos', Math.cos, chain(({ op }, x) => op.neg(op.sin(x)))),
  // sign(x) (0 at 0, the subgradient torch uses).
  Abs: unaryRecord('Abs', Math.abs, chain(({ op }, x) => op.where(op.greater(x, 0), op.scalar(x, 1), op.where(op.less(x, 0), op.scalar(x, -1), op.scalar(x, 0)))), true),
  Reciprocal: unaryRecord('Reciprocal', (x) => 1 / x, chain(({ op }, _x, y) => op.neg(op.mul(y, y)))),

  Cast: {
    infer: ([x], attrs: Attrs) => ({ dtype: attrs.to as DType, shape: x.shape }),
    emit: (c) => [c.node('Cast', [c.attr('to', ELEM[c.attrs.to as DType], 'int')])],
    interpret([x], attrs) {
      const to = attrs.to as DType;
      return x.data.map((v) => (to === 'i64' ? Math.trunc(v) : to === 'bool' ? +(v !== 0) : v));
    },
    // Between float types the gradient casts back; to integers or booleans nothing flows (autodiff never asks).
    vjp: ({ op, grad, inputs: [x] }) => [isFloat(x.dtype) ? op.cast(grad, x.dtype) : undefined],
  },
};
