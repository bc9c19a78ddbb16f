// Reverse-mode autodiff on the IR: grad(forward, loss, params) builds a training graph whose trainable
// parameters are inputs (fed each step) and whose outputs are the loss and one gradient per parameter.
// Frozen parameters stay parameters, so they remain initializers (and may be stored f16). The walk is
// tinygrad's: visit nodes in reverse topological order, ask each op's record for its VJP, and sum the
// contributions a value receives from all its uses. Fused ops keep their fast forward lowering; their
// backward recomputes the primitive decomposition and differentiates through it.
import { type Graph, type Node, type Tensor, Graph as GraphClass, GraphError, fmtShape } from './graph.ts';
import { type BackwardOptions, FUSED, isFused } from './fused.ts';
import { OPS, isPrimitive } from './registry.ts';
import { isFloat } from './primitives/typeRules.ts';
import * as op from './ops.ts';

export const LOSS_OUTPUT = 'loss';

/** The training graph's output holding dL/d`name`. */
export const gradOutputName = (name: string): string => `grad:${name}`;

export interface GradOptions extends BackwardOptions {
  /** Forward outputs to keep as outputs of the training graph too (predictions to log, say). */
  keepOutputs?: readonly string[];
  /** Differentiate fused ops through their primitive decomposition even where they have their own rule (tests compare the two). */
  decomposeFused?: boolean;
}

/**
 * The training graph of `forward`: `loss` names a forward output with one element; `wrt` names the
 * parameters (or float inputs) to differentiate. Parameters in `wrt` become inputs of the same name.
 */
export function grad(forward: Graph, loss: string, wrt: readonly string[], opts: GradOptions = {}): Graph {
  const t = new GraphClass(`${forward.name}_train`);
  const trainable = new Set(wrt);
  const known = new Set([...forward.params.keys(), ...forward.inputNames()]);
  for (const name of wrt) if (!known.has(name)) throw new GraphError(`grad: "${name}" is neither a parameter nor an input of the graph`);

  const map = new Map<number, Tensor>();
  const requires = new Set<number>();
  for (const v of forward.values) {
    if (v.kind === 'input') map.set(v.id, t.input(v.name!, v.dtype, v.shape));
    else if (v.kind === 'param') map.set(v.id, trainable.has(v.name!) ? t.input(v.name!, v.dtype, v.shape) : t.param(v.name!, v.shape, v.dtype));
    else if (v.kind === 'const') map.set(v.id, t.constant(forward.consts.get(v.id)!));
    if ((v.kind === 'input' || v.kind === 'param') && trainable.has(v.name!)) {
      if (!isFloat(v.dtype)) throw new GraphError(`grad: "${v.name}" is ${v.dtype}; only float values have gradients`);
      requires.add(map.get(v.id)!.id);
    }
  }
  const start = t.nodes.length;
  for (const n of forward.nodes) {
    const outs = t.addNode(n.op, n.inputs.map((id) => map.get(id)!), n.attrs, n.outputs.map((id) => forward.values[id]));
    n.outputs.forEach((id, i) => map.set(id, outs[i]));
  }
  const copied = t.nodes.slice(start);
  markRequires(t, copied, requires);

  const lossOut = forward.outputs.find((o) => o.name === loss);
  if (!lossOut) throw new GraphError(`grad: the graph has no output "${loss}" (outputs: ${forward.outputs.map((o) => o.name).join(', ')})`);
  const lossT = map.get(lossOut.id)!;
  if (lossT.shape.reduce((a, b) => a * b, 1) !== 1 || !isFloat(lossT.dtype)) throw new GraphError(`grad: loss "${loss}" must be one float, got ${lossT.dtype}${fmtShape(lossT.shape)}`);
  if (!requires.has(lossT.id)) throw new GraphError(`grad: loss "${loss}" does not depend on ${wrt.join(', ')}`);

  const grads = backprop(t, copied, new Map([[lossT.id, op.constant(lossT, [1], lossT.shape, lossT.dtype)]]), requires, opts);

  t.output(LOSS_OUTPUT, lossT);
  for (const name of opts.keepOutputs ?? []) {
    const o = forward.outputs.find((x) => x.name === name);
    if (!o) throw new GraphError(`grad: no output "${name}" to keep`);
    t.output(name, map.get(o.id)!);
  }
  for (const name of wrt) {
    const id = forward.params.get(name) ?? forward.inputs.find((i) => forward.values[i].name === name)!;
    const x = map.get(id)!;
    // A parameter the loss never reads has gradient zero (an unused LoRA branch, a frozen path).
    t.output(gradOutputName(name), grads.get(x.id) ?? op.expand(op.constant(x, [0], [], x.dtype), x.shape));
  }
  return pruneGraph(t);
}

/** Adds to `requires` every float output of `nodes` that depends on a value already in it. */
function markRequires(g: Graph, nodes: readonly Node[], requires: Set<number>): void {
  for (const n of nodes) {
    if (!n.inputs.some((id) => requires.has(id))) continue;
    for (const id of n.outputs) if (isFloat(g.values[id].dtype)) requires.add(id);
  }
}

/**
 * Reverse walk over `nodes` (in `g`, topologically ordered) from `seeds` (value → dL/dvalue): returns
 * the accumulated gradient of every value in `requires` that the seeds reach. New nodes go into `g`.
 */
function backprop(g: Graph, nodes: readonly Node[], seeds: ReadonlyMap<number, Tensor>, requires: ReadonlySet<number>, opts: GradOptions): Map<number, Tensor> {
  const grads = new Map(seeds);
  const accumulate = (id: number, d: Tensor) => {
    const prev = grads.get(id);
    grads.set(id, prev ? op.add(prev, d) : d);
  };
  const pieces = new SlicePieces();
  // A value's gradient is complete once the walk reaches its producer (every reader comes later in order).
  const gradOf = (id: number): Tensor | undefined => {
    const joined = pieces.take(g, id);
    if (joined) accumulate(id, joined);
    return grads.get(id);
  };
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    const gOut = gradOf(n.outputs[0]);
    if (!gOut) continue;
    const wants = n.inputs.map((id) => requires.has(id));
    if (!wants.some(Boolean)) continue;
    if (pieces.add(n, gOut)) continue;
    const inputs = n.inputs.map((id) => g.tensor(id));
    let dIns: readonly (Tensor | undefined)[];
    if (isPrimitive(n.op)) {
      const rule = OPS[n.op].vjp;
      if (rule === 'none') continue;
      dIns = rule({ inputs, output: g.tensor(n.outputs[0]), grad: gOut, attrs: n.attrs, wants, op });
    } else if (isFused(n.op)) {
      const own = FUSED[n.op].vjp;
      dIns = own && !opts.decomposeFused ? own(inputs, gOut, n.attrs, wants, opts, g.tensor(n.outputs[0])) : fusedVjp(g, n, inputs, gOut, wants, opts);
    } else {
      throw new GraphError(`grad: op ${n.op} has no gradient rule`);
    }
    n.inputs.forEach((id, k) => {
      const d = dIns[k];
      if (!wants[k] || !d) return;
      if (fmtShape(d.shape) !== fmtShape(g.values[id].shape)) throw new GraphError(`grad: ${n.op} rule gave input ${k} a gradient of shape ${fmtShape(d.shape)}, input is ${fmtShape(g.values[id].shape)}`);
      accumulate(id, d);
    });
  }
  for (const id of pieces.pending()) gradOf(id);
  return grads;
}

/**
 * Gradients arriving through unit-step Slices along one axis, held until the sliced value's gradient is
 * needed: when the slices tile the axis (GEGLU's two halves of its projection) they are joined by one Concat,
 * instead of each padded back to full size (a single-threaded Pad in ORT) and summed; otherwise each goes
 * through Slice's own rule.
 */
class SlicePieces {
  private readonly byValue = new Map<number, { axis: number; start: number; end: number; grad: Tensor; node: Node }[]>();

  /** Holds `grad`, dL/d(output of n), when n is such a Slice; false for any other node. */
  add(n: Node, grad: Tensor): boolean {
    if (n.op !== 'Slice') return false;
    const [axes, starts, ends, steps] = ['axes', 'starts', 'ends', 'steps'].map((k) => n.attrs[k] as number[]);
    if (axes.length !== 1 || steps[0] !== 1) return false;
    const list = this.byValue.get(n.inputs[0]) ?? [];
    list.push({ axis: axes[0], start: starts[0], end: ends[0], grad, node: n });
    this.byValue.set(n.inputs[0], list);
    return true;
  }

  pending(): number[] {
    return [...this.byValue.keys()];
  }

  /** The summed gradient held for value `id` of `g`, if any (and forgets it). */
  take(g: Graph, id: number): Tensor | undefined {
    const list = this.byValue.get(id);
    if (!list) return undefined;
    this.byValue.delete(id);
    const sorted = [...list].sort((a, b) => a.start - b.start);
    const axis = sorted[0].axis;
    const tiles = sorted.length > 1 && sorted.every((p, k) => p.axis === axis && p.start === (k === 0 ? 0 : sorted[k - 1].end)) && sorted[sorted.length - 1].end === g.values[id].shape[axis];
    if (tiles) return op.concat(sorted.map((p) => p.grad), axis);
    const rule = OPS.Slice.vjp;
    if (rule === 'none') throw new GraphError('grad: Slice has no gradient rule');
    const padded = list.map((p) => rule({ inputs: [g.tensor(id)], output: g.tensor(p.node.outputs[0]), grad: p.grad, attrs: p.node.attrs, wants: [true], op })[0]!);
    return padded.reduce((a, b) => op.add(a, b));
  }
}

/** A fused op's VJP: rebuild its primitive decomposition on the same inputs and differentiate through it. */
function fusedVjp(g: Graph, n: Node, inputs: readonly Tensor[], gOut: Tensor, wants: readonly boolean[], opts: GradOptions): (Tensor | undefined)[] {
  if (!isFused(n.op)) throw new GraphError(`grad: ${n.op} is not fused`);
  const from = g.nodes.length;
  const out = FUSED[n.op].decompose(inputs, n.attrs);
  const local = g.nodes.slice(from);
  const requires = new Set(inputs.filter((_, k) => wants[k]).map((x) => x.id));
  markRequires(g, local, requires);
  const grads = backprop(g, local, new Map([[out.id, gOut]]), requires, opts);
  return inputs.map((x, k) => (wants[k] ? grads.get(x.id) : undefined));
}

/** A copy of `g` (keeping only the outputs named in `outputs`, default all) without nodes, parameters and constants no kept output depends on. */
export function pruneGraph(g: Graph, outputs?: readonly string[]): Graph {
  const kept = outputs ? g.outputs.filter((o) => outputs.includes(o.name)) : g.outputs;
  const live = new Set(kept.map((o) => o.id));
  const keep: Node[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (!n.outputs.some((id) => live.has(id))) continue;
    keep.push(n);
    for (const id of n.inputs) live.add(id);
  }
  keep.reverse();
  const out = new GraphClass(g.name);
  const map = new Map<number, Tensor>();
  for (const v of g.values) {
    // Inputs always stay: a caller feeds every declared input, used or not.
    if (v.kind === 'input') map.set(v.id, out.input(v.name!, v.dtype, v.shape));
    else if (v.kind === 'param' && live.has(v.id)) map.set(v.id, out.param(v.name!, v.shape, v.dtype));
    else if (v.kind === 'const' && live.has(v.id)) map.set(v.id, out.constant(g.consts.get(v.id)!));
  }
  for (const n of keep) {
    const outs = out.addNode(n.op, n.inputs.map((id) => map.get(id)!), n.attrs, n.outputs.map((id) => g.values[id]));
    n.outputs.forEach((id, i) => map.set(id, outs[i]));
  }
  for (const o of kept) out.output(o.name, map.get(o.id)!);
  return out;
}
