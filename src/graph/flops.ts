// Work estimate of a graph: 2·MACs of every MatMul, Conv, ConvTranspose and Attention (the terms that dominate
// diffusion models). Benchmarks divide it by wall time to report effective GFLOPS.
import { type Graph, type Node, numel } from './graph.ts';

export function graphFlops(g: Graph): number {
  return g.nodes.reduce((sum, n) => sum + nodeFlops(g, n), 0);
}

/** 2·MACs of one node (0 for the ops the estimate leaves out); profiles divide a kernel's time by it. */
export function nodeFlops(g: Graph, n: Node): number {
  const out = g.values[n.outputs[0]].shape;
  if (n.op === 'MatMul') {
    const a = g.values[n.inputs[0]].shape;
    return 2 * numel(out) * a[a.length - 1];
  }
  if (n.op === 'Conv') {
    const w = g.values[n.inputs[1]].shape;
    return 2 * numel(out) * w[1] * w[2] * w[3];
  }
  if (n.op === 'ConvTranspose') {
    // Each input element meets Cout/group·kh·kw weights.
    const w = g.values[n.inputs[1]].shape;
    return 2 * numel(g.values[n.inputs[0]].shape) * w[1] * w[2] * w[3];
  }
  if (n.op === 'Attention') {
    const [q, k] = [g.values[n.inputs[0]].shape, g.values[n.inputs[1]].shape];
    // QKᵀ and P·V: 2·B·S·L·D each (D = packed head width).
    return 2 * 2 * q[0] * q[1] * k[1] * q[2];
  }
  return 0;
}
