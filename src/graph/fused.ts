// Fused ops: recorded as single nodes so the emitter can choose a fast ONNX lowering
// (InstanceNormalization-based GroupNorm, LayerNormalization, Gelu, com.microsoft.MultiHeadAttention),
// while the interpreter sees them decomposed into primitives by lowerGraph() and autodiff
// differentiates through the same decomposition. One record per fused op: type rule, decomposition,
// fast emission.
import { type Tensor, type Attrs, type Shape, type DType, Graph, GraphError, fmtShape, numel } from './graph.ts';
import type { EmitContext } from './opRecord.ts';
import * as op from './ops.ts';
import { attentionVjp } from './attentionVjp.ts';
import { groupNormVjp, layerNormVjp } from './normVjp.ts';

export type FusedOp = 'GroupNorm' | 'LayerNorm' | 'Attention' | 'Gelu';
export const FUSED_OPS: readonly FusedOp[] = ['GroupNorm', 'LayerNorm', 'Attention', 'Gelu'];

export interface FusedRecord {
  infer(inputs: readonly Tensor[], attrs: Attrs): { dtype: DType; shape: Shape };
  decompose(inputs: readonly Tensor[], attrs: Attrs): Tensor;
  /** The fast ONNX lowering, used when the op is kept fused. */
  emit(c: EmitContext): object[];
  /** Its own reverse rule where that beats differentiating the decomposition (autodiff uses the decomposition otherwise). */
  vjp?(inputs: readonly Tensor[], grad: Tensor, attrs: Attrs, wants: readonly boolean[], opts: BackwardOptions, output: Tensor): (Tensor | undefined)[];
}

/** Knobs of the reverse rules (graph/autodiff.ts GradOptions passes them on). */
export interface BackwardOptions {
  /** Attention's backward works on head groups whose B·heads·S·L is at most this (default 2^25). */
  attentionChunkElements?: number;
}

export const FUSED: Record<FusedOp, FusedRecord> = {
  // GroupNorm(x[N,C,...], scale[C], bias[C]); attrs groups, eps.
  GroupNorm: {
    infer([x, scale, bias], attrs) {
      const c = x.shape[1];
      const groups = attrs.groups as number;
      if (x.shape.length < 3) throw new GraphError(`GroupNorm: input must be [N,C,...], got ${fmtShape(x.shape)}`);
      if (c % groups !== 0) throw new GraphError(`GroupNorm: ${c} channels not divisible into ${groups} groups`);
      for (const p of [scale, bias]) if (p.shape.length !== 1 || p.shape[0] !== c) throw new GraphError(`GroupNorm: scale/bias must be [${c}], got ${fmtShape(p.shape)}`);
      return { dtype: x.dtype, shape: x.shape };
    },
    decompose([x, scale, bias], attrs) {
      const [n, c] = x.shape;
      const groups = attrs.groups as number;
      const g = op.reshape(x, [n, groups, -1]);
      const normed = op.reshape(normalizeLastAxis(g, attrs.eps as number), x.shape);
      const bshape = [1, c, ...x.shape.slice(2).map(() => 1)];
      return op.add(op.mul(normed, op.reshape(scale, bshape)), op.reshape(bias, bshape));
    },
    emit(c) {
      // ORT has no CPU kernel for GroupNormalization: it inlines the ONNX function body (several passes
      // over memory). InstanceNormalization over [N, G, rest] is one native kernel, then the affine part.
      const x = c.inTypes[0].shape;
      const groups = c.attrs.groups as number;
      const eps = c.attrs.eps as number;
      const spatial = x.slice(2).map(() => 1);
      const t = (s: string) => `${c.output[0]}_gn_${s}`;
      return [
        c.step('Reshape', [c.input[0], c.i64([x[0], groups, -1])], t('grouped')),
        c.lowering.groupNormStats === 'layerNorm'
          ? c.step('LayerNormalization', [t('grouped'), c.f32(Array(numel(x) / x[0] / groups).fill(1))], t('normed'), [c.attr('axis', -1, 'int'), c.attr('epsilon', eps, 'float')])
          : c.step('InstanceNormalization', [t('grouped'), c.f32(Array(groups).fill(1)), c.f32(Array(groups).fill(0))], t('normed'), [c.attr('epsilon', eps, 'float')]),
        c.step('Reshape', [t('normed'), c.i64(x)], t('back')),
        // var 0 with epsilon 1 makes BatchNormalization exactly back·scale + bias, in one pass.
        ...(c.lowering.groupNormAffine === 'batchNorm'
          ? [c.node('BatchNormalization', [c.attr('epsilon', 1, 'float')], [t('back'), c.input[1], c.input[2], c.f32(Array(x[1]).fill(0)), c.f32(Array(x[1]).fill(0))])]
          : [
            c.step('Reshape', [c.input[1], c.i64([x[1], ...spatial])], t('scale')),
            c.step('Reshape', [c.input[2], c.i64([x[1], ...spatial])], t('bias')),
            c.step('Mul', [t('back'), t('scale')], t('scaled')),
            c.node('Add', [], [t('scaled'), t('bias')]),
          ]),
      ];
    },
    vjp: (inputs, grad, attrs, wants) => groupNormVjp(inputs, grad, attrs.groups as number, attrs.eps as number, wants),
  },
  // LayerNorm over the last axis; scale/bias [D]; attr eps.
  LayerNorm: {
    infer([x, scale, bias]) {
      const d = x.shape[x.shape.length - 1];
      for (const p of [scale, bias]) if (p.shape.length !== 1 || p.shape[0] !== d) throw new GraphError(`LayerNorm: scale/bias must be [${d}], got ${fmtShape(p.shape)}`);
      return { dtype: x.dtype, shape: x.shape };
    },
    decompose([x, scale, bias], attrs) {
      return op.add(op.mul(normalizeLastAxis(x, attrs.eps as number), scale), bias);
    },
    emit: (c) => [c.node('LayerNormalization', [c.attr('axis', -1, 'int'), c.attr('epsilon', c.attrs.eps as number, 'float')])],
    vjp: (inputs, grad, attrs, wants) => layerNormVjp(inputs, grad, attrs.eps as number, wants),
  },
  // Attention(q[B,S,H·d], k[B,L,H·d], v[B,L,H·dv]); attrs heads, scale.
  Attention: {
    infer([q, k, v], attrs) {
      const heads = attrs.heads as number;
      const bad = q.shape.length !== 3 || k.shape.length !== 3 || v.shape.length !== 3 || q.shape[0] !== k.shape[0] || k.shape[0] !== v.shape[0] || q.shape[2] !== k.shape[2] || k.shape[1] !== v.shape[1];
      if (bad) throw new GraphError(`Attention: incompatible q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}`);
      if (q.shape[2] % heads !== 0 || v.shape[2] % heads !== 0) throw new GraphError(`Attention: width ${q.shape[2]} not divisible by ${heads} heads`);
      return { dtype: q.dtype, shape: [q.shape[0], q.shape[1], v.shape[2]] };
    },
    decompose([q, k, v], attrs) {
      const heads = attrs.heads as number;
      const [b, s, dq] = q.shape;
      const l = k.shape[1];
      const dv = v.shape[2];
      const qh = op.transpose(op.reshape(q, [b, s, heads, dq / heads]), [0, 2, 1, 3]);
      const kh = op.transpose(op.reshape(k, [b, l, heads, dq / heads]), [0, 2, 3, 1]);
      const vh = op.transpose(op.reshape(v, [b, l, heads, dv / heads]), [0, 2, 1, 3]);
      const probs = op.softmax(op.mul(op.matmul(qh, kh), attrs.scale as number), -1);
      return op.reshape(op.transpose(op.matmul(probs, vh), [0, 2, 1, 3]), [b, s, dv]);
    },
    emit: (c) => [c.node('MultiHeadAttention', [c.attr('num_heads', c.attrs.heads as number, 'int'), c.attr('scale', c.attrs.scale as number, 'float')], c.input, 'com.microsoft')],
    vjp: (inputs, grad, attrs, wants, opts, output) => attentionVjp(inputs, output, grad, attrs, wants, opts.attentionChunkElements),
  },
  // Gelu with approximate 'none' (erf) or 'tanh'.
  Gelu: {
    infer([x]) {
      return { dtype: x.dtype, shape: x.shape };
    },
    decompose([x], attrs) {
      if (attrs.approximate === 'tanh') {
        const inner = op.mul(op.add(x, op.mul(op.mul(op.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
        return op.mul(op.mul(x, 0.5), op.add(op.tanh(inner), 1));
      }
      return op.mul(op.mul(x, 0.5), op.add(op.erf(op.mul(x, Math.SQRT1_2)), 1));
    },
    emit: (c) => [c.node('Gelu', [c.attr('approximate', c.attrs.approximate as string, 'string')])],
  },
};

function normalizeLastAxis(x: Tensor, eps: number): Tensor {
  const centered = op.sub(x, op.reduceMean(x, [-1]));
  const variance = op.reduceMean(op.mul(centered, centered), [-1]);
  return op.div(centered, op.sqrt(op.add(variance, eps)));
}

export function isFused(name: string): name is FusedOp {
  return (FUSED_OPS as readonly string[]).includes(name);
}

/** Records a fused node after checking its inputs. */
export function fusedNode(name: FusedOp, inputs: readonly Tensor[], attrs: Attrs): Tensor {
  const out = FUSED[name].infer(inputs, attrs);
  return inputs[0].graph.addNode(name, inputs, attrs, [out])[0];
}

/**
 * Copies `g` into a new graph in which every fused node not in `keep` is replaced by its
 * primitive decomposition. Values keep their names, so weights bind the same way.
 */
export function lowerGraph(g: Graph, keep: ReadonlySet<FusedOp> = new Set()): Graph {
  const out = new Graph(g.name);
  const map = new Map<number, Tensor>();
  for (const v of g.values) {
    if (v.kind === 'input') map.set(v.id, out.input(v.name!, v.dtype, v.shape));
    else if (v.kind === 'param') map.set(v.id, out.param(v.name!, v.shape, v.dtype));
    else if (v.kind === 'const') map.set(v.id, out.constant(g.consts.get(v.id)!));
  }
  for (const node of g.nodes) {
    const ins = node.inputs.map((id) => map.get(id)!);
    let results: Tensor[];
    if (isFused(node.op) && !keep.has(node.op)) {
      results = [FUSED[node.op].decompose(ins, node.attrs)];
    } else {
      results = out.addNode(node.op, ins, node.attrs, node.outputs.map((id) => g.values[id]));
    }
    node.outputs.forEach((id, i) => {
      const want = g.values[id].shape;
      if (fmtShape(results[i].shape) !== fmtShape(want)) throw new GraphError(`lowering ${node.op} changed shape ${fmtShape(want)} → ${fmtShape(results[i].shape)}`);
      map.set(id, results[i]);
    });
  }
  for (const o of g.outputs) out.output(o.name, map.get(o.id)!);
  return out;
}
