// Reference interpreter: plain, slow, obvious execution of the IR in float64, used only by tests to
// check the ONNX emitter op by op and gradients by finite differences. Fused ops are decomposed
// first; each primitive runs its record's interpret() (registry.ts, hostKernels.ts).
import { type Graph, type DType, GraphError, fmtShape } from './graph.ts';
import { lowerGraph } from './fused.ts';
import { f16BitsToF32 } from './half.ts';
import { OPS, isPrimitive } from './registry.ts';
import type { HostTensor } from './opRecord.ts';
import { type WeightStore, requireParam } from './weights.ts';

export type { HostTensor } from './opRecord.ts';

export type Feed = { shape: readonly number[]; data: ArrayLike<number> | BigInt64Array };

export interface InterpretOptions {
  /**
   * 'f32' (default) rounds every f32 intermediate to float32 so results track ORT closely; 'f64' keeps
   * full double precision, which finite-difference gradient checks need.
   */
  precision?: 'f32' | 'f64';
}

function fromBytes(dtype: DType, bytes: Uint8Array): Float64Array {
  const copy = bytes.slice();
  switch (dtype) {
    case 'f32': return Float64Array.from(new Float32Array(copy.buffer));
    case 'i64': return Float64Array.from(new BigInt64Array(copy.buffer), Number);
    case 'bool': return Float64Array.from(copy);
    case 'f16': return Float64Array.from(new Uint16Array(copy.buffer), f16BitsToF32);
  }
}

const f32 = Math.fround;

/** Runs `graph` on `feeds` with `weights`; returns every graph output. */
export function interpret(graph: Graph, feeds: Record<string, Feed>, weights: WeightStore, opts: InterpretOptions = {}): Record<string, HostTensor> {
  const g = lowerGraph(graph);
  const round = (opts.precision ?? 'f32') === 'f32';
  const vals = new Map<number, Float64Array>();
  for (const v of g.values) {
    if (v.kind === 'input') {
      const f = feeds[v.name!];
      if (!f) throw new GraphError(`missing input "${v.name}"`);
      if (fmtShape(f.shape) !== fmtShape(v.shape)) throw new GraphError(`input "${v.name}" has shape ${fmtShape(f.shape)}, expected ${fmtShape(v.shape)}`);
      vals.set(v.id, f.data instanceof BigInt64Array ? Float64Array.from(f.data, Number) : Float64Array.from(f.data as ArrayLike<number>));
    } else if (v.kind === 'param') {
      vals.set(v.id, fromBytes(v.dtype, requireParam(weights, v.name!, v.dtype, v.shape).bytes));
    } else if (v.kind === 'const') {
      const c = g.consts.get(v.id)!;
      vals.set(v.id, fromBytes(c.dtype, new Uint8Array(c.data.buffer, c.data.byteOffset, c.data.byteLength)));
    }
  }
  for (const n of g.nodes) {
    if (!isPrimitive(n.op)) throw new GraphError(`interpret: unknown op ${n.op}`);
    const ins: HostTensor[] = n.inputs.map((id) => ({ shape: g.values[id].shape, data: vals.get(id)! }));
    const out = g.values[n.outputs[0]];
    let res = OPS[n.op].interpret(ins, n.attrs, out.shape);
    // Emulate the storage precision of each intermediate so results track ORT's float32 closely.
    if (round && out.dtype === 'f32') res = res.map(f32);
    vals.set(n.outputs[0], res);
  }
  const result: Record<string, HostTensor> = {};
  for (const o of g.outputs) result[o.name] = { shape: g.values[o.id].shape, data: vals.get(o.id)! };
  return result;
}
