// The primitive op table: name → record (type rule, ONNX emission, float64 interpretation, VJP).
// Everything else is built from these (nn.ts, fused.ts), so autodiff needs exactly one rule per entry.
import type { OpRecord } from './opRecord.ts';
import { ELEMENTWISE } from './primitives/elementwise.ts';
import { LINALG } from './primitives/linalg.ts';
import { LAYOUT } from './primitives/layout.ts';
import { REDUCE } from './primitives/reduce.ts';

export const PRIMITIVES = [
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Equal', 'Less', 'Greater', 'Where',
  'Neg', 'Exp', 'Log', 'Sqrt', 'Tanh', 'Erf', 'Sigmoid', 'Sin', 'Cos', 'Abs', 'Reciprocal', 'Cast',
  'MatMul', 'Conv', 'ConvTranspose', 'ReduceSum', 'ReduceMean', 'ReduceMax', 'Reshape', 'Transpose', 'Slice', 'Concat',
  'Expand', 'Pad', 'Softmax', 'ResizeNearest', 'Gather', 'ArgMax',
] as const;
export type PrimitiveOp = (typeof PRIMITIVES)[number];

const ALL: Record<string, OpRecord> = { ...ELEMENTWISE, ...LINALG, ...LAYOUT, ...REDUCE };

export const OPS: Record<PrimitiveOp, OpRecord> = Object.fromEntries(PRIMITIVES.map((name) => {
  const rec = ALL[name];
  if (!rec) throw new Error(`primitive ${name} has no record`);
  return [name, rec];
})) as Record<PrimitiveOp, OpRecord>;

export function isPrimitive(name: string): name is PrimitiveOp {
  return Object.hasOwn(OPS, name);
}
