// The gradient of a broadcast: sum the output gradient over the axes broadcasting added or stretched,
// then reshape to the operand's shape (tinygrad's EXPAND rule).
import { type Shape, type Tensor, fmtShape } from '../graph.ts';
import type * as Ops from '../ops.ts';

export function unbroadcast(op: typeof Ops, g: Tensor, shape: Shape): Tensor {
  if (fmtShape(g.shape) === fmtShape(shape)) return g;
  const lead = g.shape.length - shape.length;
  const axes: number[] = [];
  g.shape.forEach((d, i) => {
    if (i < lead || (shape[i - lead] === 1 && d !== 1)) axes.push(i);
  });
  return op.reshape(axes.length ? op.reduceSum(g, axes, true) : g, shape);
}
