// IR → ONNX ModelProto (opset 21, IR version 10) via onnx-proto. Fused ops kept by `fuse` map to
// ONNX/contrib ops; the rest are lowered to primitives first. Weights are inlined, or written to an
// external data file beside the model (needed above protobuf's 2 GB limit; loaded by path).
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { type DType, type Graph, type ValueInfo, type Node, GraphError, numel, DTYPE_BYTES } from './graph.ts';
import { type FusedOp, FUSED, FUSED_OPS, isFused, lowerGraph } from './fused.ts';
import { OPS, isPrimitive } from './registry.ts';
import { ELEM, attr } from './onnxNames.ts';
import type { EmitContext, LoweringChoice } from './opRecord.ts';
import { type WeightStore, requireParam, toBytes } from './weights.ts';
import { f32ToF16Array } from './half.ts';
import { NCHWC_DOMAIN, type NchwcFilter, type NchwcRewrite, type OnnxNode, reorderFilter, toNchwc } from './nchwcLayout.ts';
import { type Int8Options, type Int8Plan, type Precision, emitInt8Site, int8Initializers, planInt8, quantizeWeight } from './int8Lowering.ts';

const { onnx } = onnxProto;
type TensorProto = InstanceType<typeof onnx.TensorProto>;

export const OPSET = 21;
/**
 * Bumped whenever the ONNX a graph lowers to changes (a new lowering, a different fusion): compile
 * caches key on it, so a cached model built by an older emitter is rebuilt instead of reused.
 * 3: convs emitted in ORT's NCHWc form (nchwcLayout.ts).
 */
export const EMITTER_VERSION = 3;
export const IR_VERSION = 10;
/** Protobuf messages cannot exceed 2 GiB; stay clear of it with inline weights. */
export const MAX_INLINE_BYTES = 1.8e9;

export type FuseChoice = 'all' | 'none' | readonly FusedOp[];
/** 'auto' keeps a weight f16 exactly when the checkpoint stores it as f16 (ParamData.sourceDType). */
export type WeightStorage = 'f32' | 'f16' | 'auto';

/** Parameters smaller than this stay f32 under f16 storage (norm scales, biases: no memory to save). */
const F16_MIN_ELEMENTS = 1024;

/**
 * Whether f16 storage keeps a parameter of this shape as f16 in the model (cast to f32 per run): the weight
 * matrices of linear layers and embeddings. Convolution kernels (4-D) and vectors (biases, norm scales) stay
 * f32: ORT reorders a convolution with constant f32 kernel and bias into its blocked NCHWc layout, which it
 * cannot do for tensors cast at run time. Measured (ORT 1.30, one thread, CPU ms): two SDXL ResNet blocks at
 * 1280 ch / 32² 1145 vs 1488 ms, at 320 ch / 128² 1286 vs 1687 ms. SDXL's convolutions are ~13 % of its UNet
 * (+0.6 GB resident), its vectors well under 1 %; for linear layers f16 storage costs ~1.5 % (an SDXL level-2
 * transformer block, 1743 vs 1770 ms), so they stay f16. Training graphs (castPerUse) keep every large weight f16.
 */
export function storedAsF16(shape: readonly number[], castPerUse = false): boolean {
  if (numel(shape) < F16_MIN_ELEMENTS) return false;
  return castPerUse || shape.length === 2 || shape.length === 3;
}

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
  /**
   * 'int8' quantises Linears and Convs with parameter weights (per output channel, at emission) and
   * their activations (dynamically, per run); see int8Lowering.ts. Default 'fp32': the emitted model
   * is then exactly what it was before int8 existed.
   */
  precision?: Precision;
  int8?: Int8Options;
  /**
   * With f16 storage, one Cast per consuming node instead of one per weight, so a weight read by both
   * a training graph's forward and its backward is not held as f32 in between (SD1.5: 3.4 GB). The
   * session must then keep ORT from merging the identical Casts again (ortSession `keepDuplicateCasts`).
   */
  castPerUse?: boolean;
  /** Filled in by emitOnnx: how many parameters it stored as f16 (and, with int8, as int8). */
  report?: { f16Params: number; int8Params?: number };
  /**
   * ORT's NCHWc block size (runtime/nchwcBlock.ts): convs are emitted in its blocked layout with their filters
   * reordered (graph/nchwcLayout.ts), so ORT need not convert them at session creation. Undefined: plain Convs.
   */
  nchwcBlock?: number;
  /** Lowering alternatives, for benchmarks that compare them (bench/lowerings.ts); defaults are the fastest measured. */
  lowering?: LoweringChoice;
}

export type { LoweringChoice } from './opRecord.ts';

export function fuseSet(choice: FuseChoice = 'all'): Set<FusedOp> {
  if (choice === 'all') return new Set(FUSED_OPS);
  if (choice === 'none') return new Set();
  return new Set(choice);
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
  const lowering: Required<LoweringChoice> = { groupNormAffine: 'mulAdd', groupNormStats: 'instanceNorm', splitSlicedLinears: false, ...opts.lowering };
  const sliced = lowering.splitSlicedLinears ? findSlicedLinears(g) : { rewrite: new Map<Node, SlicedLinear>(), skip: new Set<Node>() };
  const int8: Int8Plan | undefined = opts.precision === 'int8' ? planInt8(g, opts.int8, new Set([...sliced.skip, ...sliced.rewrite.keys()])) : undefined;
  const names = new Map<number, string>();
  const initializers: TensorProto[] = [];
  let nodes: object[] = [];
  let constCount = 0;

  const i64Const = (values: readonly number[]): string => {
    const name = `__i64_${constCount++}`;
    initializers.push(onnx.TensorProto.create({ name, dims: [values.length], dataType: ELEM.i64, rawData: toBytes(BigInt64Array.from(values.map(BigInt))) }));
    return name;
  };
  const f32Values = new Map<string, readonly number[]>();
  const f32Const = (values: readonly number[]): string => {
    const name = `__f32_${constCount++}`;
    f32Values.set(name, values);
    initializers.push(onnx.TensorProto.create({ name, dims: [values.length], dataType: ELEM.f32, rawData: toBytes(Float32Array.from(values)) }));
    return name;
  };

  for (const v of g.values) {
    if (v.kind === 'input' || v.kind === 'param') names.set(v.id, v.name!);
    else if (v.kind === 'const') names.set(v.id, `__const_${v.id}`);
    else names.set(v.id, `v${v.id}`);
  }

  const int8Shared = new Map<string, string>();
  for (const n of g.nodes) {
    if (sliced.skip.has(n) || int8?.skip.has(n)) continue;
    const site = int8?.sites.get(n);
    if (site) {
      nodes.push(...emitInt8Site(n, site, g, { names, i64: i64Const, shared: int8Shared }));
      continue;
    }
    const linear = sliced.rewrite.get(n);
    nodes.push(...(linear ? emitSlicedLinear(n, linear, names, i64Const) : emitNode(n, g, names, i64Const, f32Const, lowering)));
  }
  const outputs = g.outputs.map((o) => {
    nodes.push({ opType: 'Identity', input: [names.get(o.id)!], output: [o.name], name: `out_${o.name}` });
    return valueInfo(o.name, g.values[o.id]);
  });
  // Nodes are emitted before the parameters are written: the NCHWc rewrite decides how conv filters are stored.
  let nchwc: NchwcRewrite | undefined;
  if (opts.nchwcBlock) {
    const shapes = new Map<string, readonly number[]>();
    for (const v of g.values) shapes.set(names.get(v.id)!, v.shape);
    const f16Possible = opts.weightStorage === 'f16' || opts.weightStorage === 'auto';
    nchwc = toNchwc(nodes as OnnxNode[], opts.nchwcBlock, {
      shapeOf: (name) => shapes.get(name),
      isF32Param: (name) => {
        const id = g.params.get(name);
        if (id === undefined || g.values[id].dtype !== 'f32' || int8?.int8Params.has(name)) return false;
        return !(f16Possible && storedAsF16(g.values[id].shape, opts.castPerUse));
      },
      constFloats: (name) => f32Values.get(name),
    });
    nodes = nchwc.nodes;
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
    // With external data each filter is written out at once, so one scratch buffer serves them all (fresh
    // pages are costly on VMs); inline weights must keep their own bytes.
    let scratch: Float32Array | undefined;
    const nchwcFilterBytes = (src: Uint8Array, f: NchwcFilter): Uint8Array => {
      const w = new Float32Array(src.buffer, src.byteOffset, src.byteLength / 4);
      const size = f.paddedOut * f.paddedIn * numel(f.shape.slice(2));
      if (fd !== undefined && (!scratch || scratch.length < size)) scratch = new Float32Array(size);
      const out = reorderFilter(w, f, opts.nchwcBlock!, fd !== undefined ? scratch!.subarray(0, size) : undefined);
      return new Uint8Array(out.buffer, out.byteOffset, size * 4);
    };
    const nchwcBiasBytes = (src: Uint8Array, padded: number): Uint8Array => {
      const b = new Float32Array(padded);
      b.set(new Float32Array(src.buffer, src.byteOffset, src.byteLength / 4));
      return toBytes(b);
    };
    const addInitializer = (name: string, dims: readonly number[], dataType: number, bytes: Uint8Array) => {
      if (fd !== undefined) {
        writeSync(fd, bytes, 0, bytes.byteLength, offset);
        initializers.push(onnx.TensorProto.create({
          name, dims: [...dims], dataType,
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
        initializers.push(onnx.TensorProto.create({ name, dims: [...dims], dataType, rawData: bytes }));
      }
    };
    for (const [name, id] of g.params) {
      const v = g.values[id];
      const p = requireParam(weights, name, v.dtype, v.shape);
      const layout = int8?.int8Params.get(name);
      if (layout) {
        const w = new Float32Array(p.bytes.buffer.slice(p.bytes.byteOffset, p.bytes.byteOffset + p.bytes.byteLength));
        for (const t of int8Initializers(name, quantizeWeight(w, v.shape, layout))) addInitializer(t.name, t.dims, t.dataType, t.bytes);
        if (!int8!.alsoFp32.has(name)) continue;
      }
      const wantF16 = opts.weightStorage === 'f16' || (opts.weightStorage === 'auto' && p.sourceDType === 'f16');
      const asF16 = wantF16 && v.dtype === 'f32' && storedAsF16(v.shape, opts.castPerUse);
      const storedName = asF16 ? `${name}::f16` : name;
      const dataType = asF16 ? ELEM.f16 : ELEM[v.dtype];
      const filter = nchwc?.filters.get(name);
      const padBias = nchwc?.paddedBiases.get(name);
      if (filter || padBias) {
        const blocked = filter ? nchwcFilterBytes(p.bytes, filter) : nchwcBiasBytes(p.bytes, padBias!);
        addInitializer(name, filter ? [filter.paddedOut, filter.paddedIn, ...v.shape.slice(2)] : [padBias!], dataType, blocked);
        continue;
      }
      const bytes = asF16 ? toBytes(f32ToF16Array(new Float32Array(p.bytes.buffer, p.bytes.byteOffset, p.bytes.byteLength / 4))) : p.bytes;
      if (asF16) {
        castNodes.push({ opType: 'Cast', input: [storedName], output: [name], attribute: [attr('to', ELEM.f32, 'int')], name: `Cast_${name}` });
        overridable.push({ name: storedName, type: { tensorType: { elemType: ELEM.f16, shape: { dim: v.shape.map((d) => ({ dimValue: d })) } } } });
      }
      addInitializer(storedName, v.shape, dataType, bytes);
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (!opts.castPerUse) nodes.unshift(...castNodes);
  if (opts.report) {
    opts.report.f16Params = castNodes.length;
    if (int8) opts.report.int8Params = int8.int8Params.size;
  }
  for (const [id, c] of g.consts) {
    initializers.push(onnx.TensorProto.create({ name: names.get(id)!, dims: [...c.shape], dataType: ELEM[c.dtype], rawData: toBytes(c.data) }));
  }

  if (opts.castPerUse) nodes = castEachUse(nodes, castNodes as CastNode[]);

  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'inkflow',
    opsetImport: [{ domain: '', version: OPSET }, { domain: 'com.microsoft', version: 1 }, ...(nchwc ? [{ domain: NCHWC_DOMAIN, version: 1 }] : [])],
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

interface CastNode {
  input: [string];
  output: [string];
  attribute: object[];
}

/** `nodes` with a private Cast in front of each node that reads a cast weight (see EmitOptions.castPerUse). */
function castEachUse(nodes: object[], casts: readonly CastNode[]): object[] {
  const castOf = new Map(casts.map((c) => [c.output[0], c]));
  const out: object[] = [];
  let uses = 0;
  for (const n of nodes as { input: string[] }[]) {
    const input = n.input.map((name) => {
      const c = castOf.get(name);
      if (!c) return name;
      const own = `${name}::f32#${uses++}`;
      out.push({ opType: 'Cast', input: c.input, output: [own], attribute: c.attribute, name: `Cast_${own}` });
      return own;
    });
    out.push({ ...n, input });
  }
  return out;
}

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
  const ctx: EmitContext = {
    input, output, attrs: n.attrs, lowering, attr, i64, f32,
    inTypes: n.inputs.map((id) => g.values[id]),
    outType: g.values[n.outputs[0]],
    node: (opType, attribute = [], ins = input, domain) => ({ opType, input: ins, output, attribute, name: `${opType}_${output[0]}`, domain }),
    step: (opType, ins, out, attribute = []) => ({ opType, input: ins, output: [out], attribute, name: `${opType}_${out}` }),
  };
  if (isPrimitive(n.op)) return OPS[n.op].emit(ctx);
  if (isFused(n.op)) return FUSED[n.op].emit(ctx);
  throw new GraphError(`emitOnnx: no lowering for op ${n.op}`);
}

/** Bytes the parameters of `g` occupy (decides inline vs external data). */
export function paramBytes(g: Graph): number {
  let total = 0;
  for (const id of g.params.values()) total += numel(g.values[id].shape) * DTYPE_BYTES[g.values[id].dtype];
  return total;
}
