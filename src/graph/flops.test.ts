// The work estimate benches divide time by: 2·MACs per node, and the graph's total is the sum of its nodes'.
import { describe, it, expect } from 'vitest';
import { createGraph } from './graph.ts';
import * as nn from './nn.ts';
import { graphFlops, nodeFlops } from './flops.ts';

describe('flops', () => {
  it('counts 2·MACs of convs, Linears and attention, nothing for elementwise ops', () => {
    const g = createGraph();
    const x = g.input('x', 'f32', [1, 8, 6, 6]);
    const c = nn.conv2d(x, 'conv', 8, 16, 3); // 16·6·6 outputs × 8·3·3 MACs
    const t = g.input('t', 'f32', [1, 10, 16]);
    const q = nn.linear(t, 'fc', 16, 32, false); // 10·32 outputs × 16 MACs
    const a = nn.attention(q, q, q, 4); // QKᵀ and P·V: 2 · 10·10·32 MACs
    g.output('c', nn.silu(c));
    g.output('a', a);
    const per = new Map<string, number>();
    for (const n of g.nodes) per.set(n.op, (per.get(n.op) ?? 0) + nodeFlops(g, n));
    expect(per.get('Conv')).toBe(2 * 16 * 36 * 72);
    expect(per.get('MatMul')).toBe(2 * 10 * 32 * 16);
    expect(per.get('Attention')).toBe(2 * 2 * 10 * 10 * 32);
    expect(per.get('Sigmoid') ?? 0).toBe(0);
    expect(graphFlops(g)).toBe([...per.values()].reduce((s, f) => s + f, 0));
  });
});
