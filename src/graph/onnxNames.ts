// ONNX spellings shared by the emitter and the op records: element types and attribute protos.
import onnxProto from 'onnx-proto';
import type { DType } from './graph.ts';

const { onnx } = onnxProto;

export const ELEM: Record<DType, number> = {
  f32: onnx.TensorProto.DataType.FLOAT,
  f16: onnx.TensorProto.DataType.FLOAT16,
  i64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
};

const A = onnx.AttributeProto.AttributeType;

export type AttrKind = 'int' | 'float' | 'ints' | 'string';

export function attr(name: string, value: number | string | readonly number[], kind: AttrKind): object {
  switch (kind) {
    case 'int': return { name, type: A.INT, i: value as number };
    case 'float': return { name, type: A.FLOAT, f: value as number };
    case 'ints': return { name, type: A.INTS, ints: [...(value as number[])] };
    case 'string': return { name, type: A.STRING, s: new TextEncoder().encode(value as string) };
  }
}
