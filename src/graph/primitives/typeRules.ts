// Shape-rule helpers shared by the op records: errors name the op and the shapes involved.
import { type Shape, type DType, GraphError, fmtShape } from '../graph.ts';
import type { ValueType } from '../opRecord.ts';

export function fail(op: string, msg: string): never {
  throw new GraphError(`${op}: ${msg}`);
}

/** numpy broadcasting of two shapes. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) fail(op, `cannot broadcast ${fmtShape(a)} with ${fmtShape(b)}`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

export function sameDType(op: string, a: ValueType, b: ValueType): void {
  if (a.dtype !== b.dtype) fail(op, `dtype mismatch ${a.dtype} vs ${b.dtype} (shapes ${fmtShape(a.shape)}, ${fmtShape(b.shape)})`);
}

export const isFloat = (d: DType): boolean => d === 'f32' || d === 'f16';
