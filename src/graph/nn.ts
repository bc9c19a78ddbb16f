// Composite layers built from primitives and fused ops, with parameters named like PyTorch
// modules (`<scope>.weight`, `<scope>.bias`) so checkpoints bind by key.
import type { Tensor } from './graph.ts';
import * as op from './ops.ts';
import { fusedNode } from './fused.ts';

/** torch.nn.Linear over the last axis: y = x·Wᵀ + b, W [out, in]. Params under `name`. */
export function linear(x: Tensor, name: string, inF: number, outF: number, bias = true): Tensor {
  const g = x.graph;
  const w = g.param(`${name}.weight`, [outF, inF]);
  let y = op.matmul(x, op.transpose(w, [1, 0]));
  if (bias) y = op.add(y, g.param(`${name}.bias`, [outF]));
  return y;
}

export interface Conv2dOptions {
  stride?: number;
  /** Symmetric padding, or [top, left, bottom, right]. Defaults to "same" for odd kernels at stride 1. */
  padding?: number | [number, number, number, number];
  bias?: boolean;
  groups?: number;
}

/** torch.nn.Conv2d with square kernels. Params `${name}.weight` [out, in/groups, k, k] and `${name}.bias`. */
export function conv2d(x: Tensor, name: string, inC: number, outC: number, k: number, opts: Conv2dOptions = {}): Tensor {
  const g = x.graph;
  const groups = opts.groups ?? 1;
  const p = opts.padding ?? Math.floor(k / 2);
  const pads: [number, number, number, number] = typeof p === 'number' ? [p, p, p, p] : p;
  const w = g.param(`${name}.weight`, [outC, inC / groups, k, k]);
  const b = opts.bias === false ? undefined : g.param(`${name}.bias`, [outC]);
  const s = opts.stride ?? 1;
  return op.conv(x, w, b, { strides: [s, s], pads, group: groups });
}

/** torch.nn.GroupNorm(groups, C, eps, affine=True). */
export function groupNorm(x: Tensor, name: string, groups: number, eps = 1e-5): Tensor {
  const g = x.graph;
  const c = x.shape[1];
  return fusedNode('GroupNorm', [x, g.param(`${name}.weight`, [c]), g.param(`${name}.bias`, [c])], { groups, eps });
}

/** torch.nn.LayerNorm over the last axis. */
export function layerNorm(x: Tensor, name: string, eps = 1e-5): Tensor {
  const g = x.graph;
  const d = x.shape[x.shape.length - 1];
  return fusedNode('LayerNorm', [x, g.param(`${name}.weight`, [d]), g.param(`${name}.bias`, [d])], { eps });
}

export const silu = (x: Tensor): Tensor => op.mul(x, op.sigmoid(x));

/** GELU, exact (erf) or the tanh approximation. */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  return fusedNode('Gelu', [x], { approximate });
}

/** CLIP's quick_gelu: x·σ(1.702x). */
export const quickGelu = (x: Tensor): Tensor => op.mul(x, op.sigmoid(op.mul(x, 1.702)));

/**
 * Multi-head scaled dot-product attention on packed heads: q [B,S,H·d], k [B,L,H·d], v [B,L,H·dv]
 * → [B,S,H·dv]. `scale` defaults to 1/√d.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, heads: number, scale?: number): Tensor {
  const d = q.shape[2] / heads;
  return fusedNode('Attention', [q, k, v], { heads, scale: scale ?? 1 / Math.sqrt(d) });
}
