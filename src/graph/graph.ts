// The graph IR: typed values (static shapes), named parameters, constants and nodes.
// Shapes are concrete numbers: a model is built for the input sizes it will run at, and the compile
// cache (runtime/) makes a second build at the same sizes free. Static shapes keep shape inference,
// autodiff and the reference interpreter simple and let errors name exact sizes.

export type DType = 'f32' | 'f16' | 'i64' | 'bool';
export type Shape = readonly number[];
export type AttrValue = number | string | readonly number[];
export type Attrs = Readonly<Record<string, AttrValue>>;

/** A handle to a value in a graph. Ops take tensors and return new ones; the graph records them. */
export interface Tensor {
  readonly graph: Graph;
  readonly id: number;
  readonly dtype: DType;
  readonly shape: Shape;
}

export type ValueKind = 'input' | 'param' | 'const' | 'node';

export interface ValueInfo {
  readonly id: number;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly kind: ValueKind;
  /** Input and parameter names (parameter names are the checkpoint's key names). */
  readonly name?: string;
}

export interface Node {
  readonly op: string;
  readonly inputs: readonly number[];
  readonly attrs: Attrs;
  readonly outputs: readonly number[];
}

/** Constant data embedded in the graph (small tensors: shapes, scales, masks). */
export interface ConstData {
  readonly dtype: DType;
  readonly shape: Shape;
  readonly data: Float32Array | Uint16Array | BigInt64Array | Uint8Array;
}

export class GraphError extends Error {
  override name = 'GraphError';
}

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function fmtShape(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

export const DTYPE_BYTES: Record<DType, number> = { f32: 4, f16: 2, i64: 8, bool: 1 };

export class Graph {
  readonly values: ValueInfo[] = [];
  readonly nodes: Node[] = [];
  readonly inputs: number[] = [];
  readonly params = new Map<string, number>();
  readonly consts = new Map<number, ConstData>();
  readonly outputs: { name: string; id: number }[] = [];
  /** Name scope stack used by model builders so parameter names follow checkpoint keys. */
  private readonly scope: string[] = [];

  constructor(readonly name = 'inkflow') {}

  tensor(id: number): Tensor {
    const v = this.values[id];
    return { graph: this, id, dtype: v.dtype, shape: v.shape };
  }

  private addValue(dtype: DType, shape: Shape, kind: ValueKind, name?: string): Tensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new GraphError(`invalid dimension ${d} in shape ${fmtShape(shape)}${name ? ` of ${name}` : ''}`);
    }
    const id = this.values.length;
    this.values.push({ id, dtype, shape: [...shape], kind, name });
    return this.tensor(id);
  }

  input(name: string, dtype: DType, shape: Shape): Tensor {
    if (this.values.some((v) => v.kind === 'input' && v.name === name)) throw new GraphError(`duplicate input "${name}"`);
    const t = this.addValue(dtype, shape, 'input', name);
    this.inputs.push(t.id);
    return t;
  }

  /** Declares a named parameter (weights are bound at compile time). Names get the current scope prefix. */
  param(name: string, shape: Shape, dtype: DType = 'f32'): Tensor {
    const full = this.scoped(name);
    const existing = this.params.get(full);
    if (existing !== undefined) {
      const v = this.values[existing];
      if (v.dtype !== dtype || fmtShape(v.shape) !== fmtShape(shape)) {
        throw new GraphError(`parameter "${full}" declared twice with different types: ${v.dtype}${fmtShape(v.shape)} vs ${dtype}${fmtShape(shape)}`);
      }
      return this.tensor(existing);
    }
    const t = this.addValue(dtype, shape, 'param', full);
    this.params.set(full, t.id);
    return t;
  }

  constant(data: ConstData): Tensor {
    if (data.data.length !== numel(data.shape)) {
      throw new GraphError(`constant has ${data.data.length} elements, shape ${fmtShape(data.shape)} needs ${numel(data.shape)}`);
    }
    const t = this.addValue(data.dtype, data.shape, 'const');
    this.consts.set(t.id, data);
    return t;
  }

  /** Records a node whose output types were inferred by the caller (ops.ts does the inference). */
  addNode(op: string, inputs: readonly Tensor[], attrs: Attrs, outTypes: readonly { dtype: DType; shape: Shape }[]): Tensor[] {
    for (const t of inputs) {
      if (t.graph !== this) throw new GraphError(`${op}: input belongs to another graph`);
    }
    const outs = outTypes.map((o) => this.addValue(o.dtype, o.shape, 'node'));
    this.nodes.push({ op, inputs: inputs.map((t) => t.id), attrs, outputs: outs.map((t) => t.id) });
    return outs;
  }

  output(name: string, t: Tensor): void {
    if (t.graph !== this) throw new GraphError(`output "${name}" belongs to another graph`);
    if (this.outputs.some((o) => o.name === name)) throw new GraphError(`duplicate output "${name}"`);
    this.outputs.push({ name, id: t.id });
  }

  /** Runs `build` with `prefix` pushed on the parameter name scope (joined with '.'). */
  within<T>(prefix: string | number, build: () => T): T {
    this.scope.push(String(prefix));
    try {
      return build();
    } finally {
      this.scope.pop();
    }
  }

  scoped(name: string): string {
    return this.scope.length ? `${this.scope.join('.')}.${name}` : name;
  }

  value(id: number): ValueInfo {
    return this.values[id];
  }

  inputNames(): string[] {
    return this.inputs.map((id) => this.values[id].name!);
  }
}

export function createGraph(name?: string): Graph {
  return new Graph(name);
}
