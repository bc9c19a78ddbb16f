// User-supplied .onnx files (segmenters, detectors): opened by path with the same session options,
// errors and checked run() as compiled IR graphs, so pipelines never touch onnxruntime themselves.
// The model declares its own inputs; dynamic dims (symbolic names or -1) accept any size.
import { existsSync } from 'node:fs';
import { dtypeFromOrt, openSession, RuntimeError, sessionRunner, type InputSpec, type OnnxRunner, type SessionOptions } from './ortSession.ts';

export interface OnnxModel extends OnnxRunner {
  /** The inputs in the model's order; `shape` is undefined when the file does not say. */
  readonly inputs: readonly InputSpec[];
}

/** Opens the .onnx file at `path`; RuntimeError when it is missing, not ONNX, or has inputs inkflow cannot feed. */
export async function openOnnx(path: string, opts: SessionOptions = {}): Promise<OnnxModel> {
  if (!existsSync(path)) throw new RuntimeError(`${path} does not exist`);
  const session = await openSession(path, opts);
  const inputs: InputSpec[] = [];
  for (const meta of session.inputMetadata) {
    const dtype = meta.isTensor ? dtypeFromOrt(meta.type) : undefined;
    if (!meta.isTensor || !dtype) {
      await session.release();
      throw new RuntimeError(`${path}: input "${meta.name}" is ${meta.isTensor ? meta.type : 'not a tensor'}; inkflow feeds only float32, float16, int64 and bool tensors`);
    }
    // ORT reports an undeclared shape as [], the same as a scalar's: take it as unknown.
    inputs.push({ name: meta.name, dtype, shape: meta.shape.length ? meta.shape : undefined });
  }
  return { ...sessionRunner(session, inputs), inputs };
}
