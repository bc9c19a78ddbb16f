// Content hash of a graph's structure (not its weights): the compile-cache key is this plus the
// weight store's fingerprint, so a cached model loads without re-emitting or reading weights.
import { createHash } from 'node:crypto';
import type { Graph } from './graph.ts';

export function graphHash(g: Graph, extra = ''): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ v: 1, extra, values: g.values.map((v) => [v.dtype, v.shape, v.kind, v.name ?? null]) }));
  h.update(JSON.stringify(g.nodes.map((n) => [n.op, n.inputs, n.attrs, n.outputs])));
  h.update(JSON.stringify(g.outputs));
  for (const [id, c] of [...g.consts].sort(([a], [b]) => a - b)) {
    h.update(`${id}:${c.dtype}`);
    h.update(new Uint8Array(c.data.buffer, c.data.byteOffset, c.data.byteLength));
  }
  return h.digest('hex');
}
