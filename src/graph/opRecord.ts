// What the engine knows about one op, in one record: its type rule (shape inference with errors that
// name the shapes), its ONNX emission, its float64 reference interpretation and its vector-Jacobian
// product (the reverse-mode rule: output gradient → input gradients, built from primitives).
// A table of these replaces the three switch statements the emitter, interpreter and autodiff had.
import type { Attrs, DType, Shape, Tensor } from './graph.ts';
import type * as Ops from './ops.ts';
import type { AttrKind } from './onnxNames.ts';

export interface ValueType {
  readonly dtype: DType;
  readonly shape: Shape;
}

export interface HostTensor {
  shape: Shape;
  data: Float64Array;
}

/**
 * Alternatives measured against the defaults (ORT 1.30 CPU, 2 cores, A/B in one process): none won
 * beyond the ±3 % run-to-run noise on the SD1.5 UNet 512², the VAE decode or a Transformer2D block,
 * so the defaults stay; the alternatives remain for re-measuring on other machines or ORT versions.
 */
export interface LoweringChoice {
  /**
   * GroupNorm's per-channel affine after normalisation: a Mul pass then an Add pass (default), or one
   * BatchNormalization pass (mean 0, var 0, epsilon 1: exactly x·scale + bias, but single-threaded).
   */
  groupNormAffine?: 'mulAdd' | 'batchNorm';
  /**
   * GroupNorm's statistics: InstanceNormalization over [N, G, rest] (default; single-threaded, two-pass
   * variance) or LayerNormalization over its last axis (parallel, one-pass E[x²]−E[x]² in f32).
   */
  groupNormStats?: 'instanceNorm' | 'layerNorm';
  /**
   * Slices of a Linear's output along its features (GEGLU's hidden/gate chunks) become Linears on
   * the matching weight rows: two Gemms instead of one Gemm and a Split copy. Default false.
   */
  splitSlicedLinears?: boolean;
}

/** What an op record's emit() gets: value names, types, and helpers that add constant initializers. */
export interface EmitContext {
  readonly input: readonly string[];
  readonly output: readonly string[];
  readonly attrs: Attrs;
  readonly inTypes: readonly ValueType[];
  readonly outType: ValueType;
  readonly lowering: Required<LoweringChoice>;
  /** A node writing this op's output (name derived from it). `inputs` defaults to the op's inputs. */
  node(opType: string, attribute?: object[], inputs?: readonly string[], domain?: string): object;
  /** A node writing an intermediate `output` (for multi-node lowerings). */
  step(opType: string, inputs: readonly string[], output: string, attribute?: object[]): object;
  attr(name: string, value: number | string | readonly number[], kind: AttrKind): object;
  i64(values: readonly number[]): string;
  f32(values: readonly number[]): string;
}

/** What a vector-Jacobian rule gets: the op's inputs and output in the training graph, and dL/d(output). */
export interface VjpContext {
  readonly inputs: readonly Tensor[];
  readonly output: Tensor;
  readonly grad: Tensor;
  readonly attrs: Attrs;
  /** Which inputs need a gradient (a rule may skip building the others). */
  readonly wants: readonly boolean[];
  /** The op builders (passed in rather than imported, so ops.ts and the records do not import each other). */
  readonly op: typeof Ops;
}

/** Gradients for each input, in the input's shape; undefined where an input carries none (indices, conditions). */
export type Vjp = (c: VjpContext) => readonly (Tensor | undefined)[];

export interface OpRecord {
  infer(ins: readonly ValueType[], attrs: Attrs): ValueType;
  emit(c: EmitContext): object[];
  interpret(ins: readonly HostTensor[], attrs: Attrs, out: Shape): Float64Array;
  /** 'none': the output is boolean or integer, so no gradient flows through this op. */
  vjp: Vjp | 'none';
}
