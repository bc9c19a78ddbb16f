// IR → ONNX ModelProto (opset 21, IR version 10) via onnx-proto. Fused ops kept by `fuse` map to
// ONNX/contrib ops; the rest are lowered to primitives first. Weights are inlined, or written to an
// external data file beside the model (needed above protobuf's 2 GB limit; loaded by path).
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { type DType, type Graph, type ValueInfo, type Node, GraphError, numel, DTYPE_BYTES } from './graph.ts';
import { type FusedOp, FUSED_OPS, lowerGraph } from './fused.ts';
import { type WeightStore, requireParam, toBytes } from './weights.ts';
import { f32ToF16Array } from './half.ts';

const { onnx } = onnxProto;
type TensorProto = InstanceType<typeof onnx.TensorProto>;

export const OPSET = 21;
/**
 * Bumped whenever the ONNX a graph lowers to changes (a new lowering, a different fusion): compile
 * caches key on it, so a cached model built by an older emitter is rebuilt instead of reused.
 */
export const EMITTER_VERSION = 1;
export const IR_VERSION = 10;
/** Protobuf messages cannot exceed 2 GiB; stay clear of it with inline weights. */
export const MAX_INLINE_BYTES = 1.8e9;

export type FuseChoice = 'all' | 'none' | readonly FusedOp[];
/** 'auto' keeps a weight f16 exactly when the checkpoint stores it as f16 (ParamData.sourceDType). */
export type WeightStorage = 'f32' | 'f16' | 'auto';

/** Parameters smaller than this stay f32 under f16 storage (norm scales, biases: no memory to save). */
const F16_MIN_ELEMENTS = 1024;

export interface EmitOptions {
  /** Which fused ops keep their fast lowering (default: all). */
  fuse?: FuseChoice;
  /** Write weights to `dir/file` and reference them as external data. */
  externalData?: { dir: string; file: string };
  /**
   * 'f16' stores large f32 weights as float16 and casts them back to f32 inside the graph: half the
   * disk and resident memory for checkpoints that were fp16 anyway, at the cost of a cast per run
   * (SD1.5 UNet 512²: 2.8 s instead of 2.45 s, 3.1 GB peak instead of 4–5 GB). Default 'f32'.
   */
  weightStorage?: WeightStorage;
  /** Filled in by emitOnnx: how many parameters it stored as f16. */
  report?: { f16Params: number };
  /** Lowering alternatives, for benchmarks that compare them (bench/lowerings.ts); defaults are the fastest measured. */
  lowering?: LoweringChoice;
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

export function fuseSet(choice: FuseChoice = 'all'): Set<FusedOp> {
  if (choice === 'all') return new Set(FUSED_OPS);
  if (choice === 'none') return new Set();
  return new Set(choice);
}

const ELEM: Record<DType, number> = {
  f32: onnx.TensorProto.DataType.FLOAT,
  f16: onnx.TensorProto.DataType.FLOAT16,
  i64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
};

const A = onnx.AttributeProto.AttributeType;

function attr(name: string, value: number | string | readonly number[], kind: 'int' | 'float' | 'ints' | 'string') {
  switch (kind) {
    case 'int': return { name, type: A.INT, i: value as number };
    case 'float': return { name, type: A.FLOAT, f: value as number };
    case 'ints': return { name, type: A.INTS, ints: [...(value as number[])] };
    case 'string': return { name, type: A.STRING, s: new TextEncoder().encode(value as string) };
  }
}

function valueInfo(name: string, v: ValueInfo) {
  return {
    name,
    type: { tensorType: { elemType: ELEM[v.dtype], shape: { dim: v.shape.map((d) => ({ dimValue: d })) } } },
  };
}

/** Emits `graph` as serialized ONNX bytes. */
export function emitOnnx(graph: Graph, weights: WeightStore, opts: EmitOptions = {}): Uint8Array {
  const g = lowerGraph(graph, fuseSet(opts.fuse));
  const names = new Map<number, string>();
  const initializers: TensorProto[] = [];
  const nodes: object[] = [];
  let constCount = 0;

  const i64Const = (values: readonly number[]): string => {
    const name = `__i64_${constCount++}`;
    initializers.push(onnx.TensorProto.create({ name, dims: [values.length], dataType: ELEM.i64, rawData: toBytes(BigInt64Array.from(values.map(BigInt))) }));
    return name;
  };
  const f32Const = (values: readonly number[]): string => {
    const name = `__f32_${constCount++}`;
    initializers.push(onnx.TensorProto.create({ name, dims: [values.length], dataType: ELEM.f32, rawData: toBytes(Float32Array.from(values)) }));
    return name;
  };

  for (const v of g.values) {
    if (v.kind === 'input' || v.kind === 'param') names.set(v.id, v.name!);
    else if (v.kind === 'const') names.set(v.id, `__const_${v.id}`);
    else names.set(v.id, `v${v.id}`);
  }

  // Parameters, streamed one at a time so a multi-GB model never sits in memory twice.
  // f16-stored weights are initializers that are also graph inputs ("overridable"): ORT then treats
  // them as non-constant and keeps the Cast to f32 in the graph instead of folding it into an f32
  // copy of the whole model. Only one layer's f32 weights are alive at a time during a run.
  const castNodes: object[] = [];
  const overridable: object[] = [];
  let fd: number | undefined;
  let offset = 0;
  if (opts.externalData) fd = openSync(join(opts.externalData.dir, opts.externalData.file), 'w');
  try {
    let inlineBytes = 0;
    for (const [name, id] of g.params) {
      const v = g.values[id];
      const p = requireParam(weights, name, v.dtype, v.shape);
      const wantF16 = opts.weightStorage === 'f16' || (opts.weightStorage === 'auto' && p.sourceDType === 'f16');
      const asF16 = wantF16 && v.dtype === 'f32' && numel(v.shape) >= F16_MIN_ELEMENTS;
      const storedName = asF16 ? `${name}::f16` : name;
      const dataType = asF16 ? ELEM.f16 : ELEM[v.dtype];
      const bytes = asF16 ? toBytes(f32ToF16Array(new Float32Array(p.bytes.buffer, p.bytes.byteOffset, p.bytes.byteLength / 4))) : p.bytes;
      if (asF16) {
        castNodes.push({ opType: 'Cast', input: [storedName], output: [name], attribute: [attr('to', ELEM.f32, 'int')], name: `Cast_${name}` });
        overridable.push({ name: storedName, type: { tensorType: { elemType: ELEM.f16, shape: { dim: v.shape.map((d) => ({ dimValue: d })) } } } });
      }
      if (fd !== undefined) {
        writeSync(fd, bytes, 0, bytes.byteLength, offset);
        initializers.push(onnx.TensorProto.create({
          name: storedName, dims: [...v.shape], dataType,
          dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
          externalData: [
            { key: 'location', value: opts.externalData!.file },
            { key: 'offset', value: String(offset) },
            { key: 'length', value: String(bytes.byteLength) },
          ],
        }));
        offset += bytes.byteLength;
      } else {
        inlineBytes += bytes.byteLength;
        if (inlineBytes > MAX_INLINE_BYTES) throw new GraphError(`weights exceed ${MAX_INLINE_BYTES} bytes: emit with externalData`);
        initializers.push(onnx.TensorProto.create({ name: storedName, dims: [...v.shape], dataType, rawData: bytes }));
      }
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  nodes.push(...castNodes);
  if (opts.report) opts.report.f16Params = castNodes.length;
  for (const [id, c] of g.consts) {
    initializers.push(onnx.TensorProto.create({ name: names.get(id)!, dims: [...c.shape], dataType: ELEM[c.dtype], rawData: toBytes(c.data) }));
  }

  const lowering: Required<LoweringChoice> = { groupNormAffine: 'mulAdd', groupNormStats: 'instanceNorm', splitSlicedLinears: false, ...opts.lowering };
  const sliced = lowering.splitSlicedLinears ? findSlicedLinears(g) : { rewrite: new Map<Node, SlicedLinear>(), skip: new Set<Node>() };
  for (const n of g.nodes) {
    if (sliced.skip.has(n)) continue;
    const linear = sliced.rewrite.get(n);
    nodes.push(...(linear ? emitSlicedLinear(n, linear, names, i64Const) : emitNode(n, g, names, i64Const, f32Const, lowering)));
  }
  const outputs = g.outputs.map((o) => {
    nodes.push({ opType: 'Identity', input: [names.get(o.id)!], output: [o.name], name: `out_${o.name}` });
    return valueInfo(o.name, g.values[o.id]);
  });

  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'inkflow',
    opsetImport: [{ domain: '', version: OPSET }, { domain: 'com.microsoft', version: 1 }],
    graph: {
      name: g.name,
      node: nodes,
      initializer: initializers,
      input: [...g.inputs.map((id) => valueInfo(names.get(id)!, g.values[id])), ...overridable],
      output: outputs,
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

const DIRECT = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Equal', 'Less', 'Greater', 'Where', 'Neg', 'Exp', 'Log',
  'Sqrt', 'Tanh', 'Erf', 'Sigmoid', 'Sin', 'Cos', 'Abs', 'Reciprocal', 'MatMul',
]);

/** A Linear (x·Wᵀ, optionally + b) whose output is only ever sliced along its last axis. */
interface SlicedLinear {
  x: number;
  weight: number;
  bias?: number;
}

/**
 * Finds Slice nodes that cut the output of a Linear with parameter weights along the feature axis,
 * where that output has no other use: each such Slice is emitted as its own Linear on the weight's
 * rows (ORT folds the weight Slice into a new initializer), and the full Linear is not emitted.
 */
function findSlicedLinears(g: Graph): { rewrite: Map<Node, SlicedLinear>; skip: Set<Node> } {
  const producer = new Map<number, Node>();
  const consumers = new Map<number, Node[]>();
  for (const n of g.nodes) {
    for (const id of n.outputs) producer.set(id, n);
    for (const id of n.inputs) consumers.set(id, [...(consumers.get(id) ?? []), n]);
  }
  const graphOutputs = new Set(g.outputs.map((o) => o.id));
  const isParam = (id: number, rank: number) => g.values[id].kind === 'param' && g.values[id].shape.length === rank;
  const onlyUse = (id: number, user: Node) => !graphOutputs.has(id) && consumers.get(id)?.length === 1 && consumers.get(id)![0] === user;
  const featureSlice = (n: Node) => {
    const rank = g.values[n.inputs[0]].shape.length;
    const axes = n.attrs.axes as number[];
    return n.op === 'Slice' && axes.length === 1 && axes[0] === rank - 1 && (n.attrs.steps as number[])[0] === 1;
  };
  const rewrite = new Map<Node, SlicedLinear>();
  const skip = new Set<Node>();
  const seen = new Set<number>();
  for (const s of g.nodes) {
    if (!featureSlice(s) || seen.has(s.inputs[0])) continue;
    const out = s.inputs[0];
    seen.add(out);
    const users = consumers.get(out) ?? [];
    if (graphOutputs.has(out) || !users.every(featureSlice)) continue;
    let add: Node | undefined = producer.get(out);
    let mm = add;
    let bias: number | undefined;
    if (add?.op === 'Add' && isParam(add.inputs[1], 1)) {
      bias = add.inputs[1];
      mm = producer.get(add.inputs[0]);
      if (!mm || !onlyUse(add.inputs[0], add)) continue;
    } else {
      add = undefined;
    }
    if (mm?.op !== 'MatMul') continue;
    const t = producer.get(mm.inputs[1]);
    if (t?.op !== 'Transpose' || (t.attrs.perm as number[]).join() !== '1,0' || !isParam(t.inputs[0], 2) || !onlyUse(mm.inputs[1], mm)) continue;
    for (const u of users) rewrite.set(u, { x: mm.inputs[0], weight: t.inputs[0], bias });
    for (const n of [t, mm, add]) if (n) skip.add(n);
  }
  return { rewrite, skip };
}

function emitSlicedLinear(s: Node, l: SlicedLinear, names: Map<number, string>, i64: (v: readonly number[]) => string): object[] {
  const out = names.get(s.outputs[0])!;
  const [start] = s.attrs.starts as number[];
  const [end] = s.attrs.ends as number[];
  const rows = (param: number, name: string) => ({ opType: 'Slice', input: [names.get(param)!, i64([start]), i64([end]), i64([0])], output: [name], name: `Slice_${name}` });
  const t = (x: string) => `${out}_sl_${x}`;
  const matmulOut = l.bias === undefined ? out : t('mm');
  const nodes: object[] = [
    rows(l.weight, t('w')),
    { opType: 'Transpose', input: [t('w')], output: [t('wt')], attribute: [attr('perm', [1, 0], 'ints')], name: `Transpose_${t('wt')}` },
    { opType: 'MatMul', input: [names.get(l.x)!, t('wt')], output: [matmulOut], name: `MatMul_${matmulOut}` },
  ];
  if (l.bias !== undefined) nodes.push(rows(l.bias, t('b')), { opType: 'Add', input: [matmulOut, t('b')], output: [out], name: `Add_${out}` });
  return nodes;
}

function emitNode(n: Node, g: Graph, names: Map<number, string>, i64: (v: readonly number[]) => string, f32: (v: readonly number[]) => string, lowering: Required<LoweringChoice>): object[] {
  const input = n.inputs.map((id) => names.get(id)!);
  const output = n.outputs.map((id) => names.get(id)!);
  const a = n.attrs;
  const node = (opType: string, attribute: object[] = [], ins = input, domain?: string) => ({ opType, input: ins, output, attribute, name: `${opType}_${output[0]}`, domain });
  if (DIRECT.has(n.op)) return [node(n.op)];
  switch (n.op) {
    case 'Cast': return [node('Cast', [attr('to', ELEM[a.to as DType], 'int')])];
    case 'Conv': {
      const w = g.values[n.inputs[1]];
      return [node('Conv', [attr('strides', a.strides as number[], 'ints'), attr('pads', a.pads as number[], 'ints'), attr('dilations', a.dilations as number[], 'ints'), attr('group', a.group as number, 'int'), attr('kernel_shape', w.shape.slice(2), 'ints')])];
    }
    case 'ReduceSum': case 'ReduceMean': case 'ReduceMax':
      return [node(n.op, [attr('keepdims', a.keepdims as number, 'int')], [input[0], i64(a.axes as number[])])];
    case 'Reshape': return [node('Reshape', [], [input[0], i64(a.shape as number[])])];
    case 'Transpose': return [node('Transpose', [attr('perm', a.perm as number[], 'ints')])];
    case 'Slice': return [node('Slice', [], [input[0], i64(a.starts as number[]), i64(a.ends as number[]), i64(a.axes as number[]), i64(a.steps as number[])])];
    case 'Concat': return [node('Concat', [attr('axis', a.axis as number, 'int')])];
    case 'Expand': return [node('Expand', [], [input[0], i64(a.shape as number[])])];
    case 'Softmax': return [node('Softmax', [attr('axis', a.axis as number, 'int')])];
    case 'ResizeNearest': {
      const [sh, sw] = a.scales as number[];
      return [node('Resize', [attr('mode', 'nearest', 'string'), attr('coordinate_transformation_mode', 'asymmetric', 'string'), attr('nearest_mode', 'floor', 'string')], [input[0], '', f32([1, 1, sh, sw])])];
    }
    case 'Gather': return [node('Gather', [attr('axis', a.axis as number, 'int')])];
    case 'ArgMax': return [node('ArgMax', [attr('axis', a.axis as number, 'int'), attr('keepdims', a.keepdims as number, 'int')])];
    case 'GroupNorm': {
      // ORT has no CPU kernel for GroupNormalization: it inlines the ONNX function body (several passes
      // over memory). InstanceNormalization over [N, G, rest] is one native kernel, then the affine part.
      const x = g.values[n.inputs[0]].shape;
      const groups = a.groups as number;
      const spatial = x.slice(2).map(() => 1);
      const t = (s: string) => `${output[0]}_gn_${s}`;
      const mk = (opType: string, ins: string[], out: string, attribute: object[] = []) => ({ opType, input: ins, output: [out], attribute, name: `${opType}_${out}` });
      return [
        mk('Reshape', [input[0], i64([x[0], groups, -1])], t('grouped')),
        lowering.groupNormStats === 'layerNorm'
          ? mk('LayerNormalization', [t('grouped'), f32(Array(numel(x) / x[0] / groups).fill(1))], t('normed'), [attr('axis', -1, 'int'), attr('epsilon', a.eps as number, 'float')])
          : mk('InstanceNormalization', [t('grouped'), f32(Array(groups).fill(1)), f32(Array(groups).fill(0))], t('normed'), [attr('epsilon', a.eps as number, 'float')]),
        mk('Reshape', [t('normed'), i64(x)], t('back')),
        // var 0 with epsilon 1 makes BatchNormalization exactly back·scale + bias, in one pass.
        ...(lowering.groupNormAffine === 'batchNorm' ? [{
          opType: 'BatchNormalization', input: [t('back'), input[1], input[2], f32(Array(x[1]).fill(0)), f32(Array(x[1]).fill(0))],
          output, attribute: [attr('epsilon', 1, 'float')], name: `BatchNormalization_${output[0]}`,
        }] : [
          mk('Reshape', [input[1], i64([x[1], ...spatial])], t('scale')),
          mk('Reshape', [input[2], i64([x[1], ...spatial])], t('bias')),
          mk('Mul', [t('back'), t('scale')], t('scaled')),
          { opType: 'Add', input: [t('scaled'), t('bias')], output, name: `Add_${output[0]}` },
        ]),
      ];
    }
    case 'LayerNorm': return [node('LayerNormalization', [attr('axis', -1, 'int'), attr('epsilon', a.eps as number, 'float')])];
    case 'Gelu': return [node('Gelu', [attr('approximate', a.approximate as string, 'string')])];
    case 'Attention': return [node('MultiHeadAttention', [attr('num_heads', a.heads as number, 'int'), attr('scale', a.scale as number, 'float')], input, 'com.microsoft')];
  }
  throw new GraphError(`emitOnnx: no lowering for op ${n.op}`);
}

/** Bytes the parameters of `g` occupy (decides inline vs external data). */
export function paramBytes(g: Graph): number {
  let total = 0;
  for (const id of g.params.values()) total += numel(g.values[id].shape) * DTYPE_BYTES[g.values[id].dtype];
  return total;
}
