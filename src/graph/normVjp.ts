// GroupNorm's and LayerNorm's own reverse rule: the textbook normalisation backward, fewer passes over
// memory than differentiating the decomposition (these ops are memory-bound). With x̂ = (x − μ)·r,
// r = 1/√(σ² + ε) over each normalised group of M elements and g' = g·γ:
//   dγ = Σ g·x̂;  dβ = Σ g;  dx = r · (g' − mean(g') − x̂ · mean(g'·x̂))
import type { Tensor } from './graph.ts';
import * as op from './ops.ts';

/** dx, dγ, dβ for a normalisation over the last axis of `grouped` views (the caller reshapes). */
function normalizeBackward(x: Tensor, g: Tensor, scaleB: Tensor, eps: number): { dx: Tensor; xhat: Tensor } {
  const mean = op.reduceMean(x, [-1]);
  const xc = op.sub(x, mean);
  const rstd = op.reciprocal(op.sqrt(op.add(op.reduceMean(op.mul(xc, xc), [-1]), eps)));
  const xhat = op.mul(xc, rstd);
  const gs = op.mul(g, scaleB);
  const inner = op.sub(op.sub(gs, op.reduceMean(gs, [-1])), op.mul(xhat, op.reduceMean(op.mul(gs, xhat), [-1])));
  return { dx: op.mul(inner, rstd), xhat };
}

/** GroupNorm(x [N, C, …], γ [C], β [C]). */
export function groupNormVjp([x, scale]: readonly Tensor[], grad: Tensor, groups: number, eps: number, wants: readonly boolean[]): (Tensor | undefined)[] {
  const [n, c] = x.shape;
  const rest = x.shape.slice(2);
  const perChannel = rest.reduce((a, b) => a * b, 1);
  // Work in [N, G, C/G, spatial] so γ broadcasts per channel and statistics reduce over the last two axes (flattened).
  const view = [n, groups, (c / groups) * perChannel];
  const channelView = [n, groups, c / groups, perChannel];
  const scaleB = op.reshape(scale, [1, groups, c / groups, 1]);
  const xg = op.reshape(x, view);
  const gg = op.reshape(grad, channelView);
  const gs = op.reshape(op.mul(gg, scaleB), view);
  const mean = op.reduceMean(xg, [-1]);
  const xc = op.sub(xg, mean);
  const rstd = op.reciprocal(op.sqrt(op.add(op.reduceMean(op.mul(xc, xc), [-1]), eps)));
  const xhat = op.mul(xc, rstd);
  const dx = wants[0]
    ? op.reshape(op.mul(op.sub(op.sub(gs, op.reduceMean(gs, [-1])), op.mul(xhat, op.reduceMean(op.mul(gs, xhat), [-1]))), rstd), x.shape)
    : undefined;
  const dScale = wants[1] ? op.reshape(op.reduceSum(op.mul(gg, op.reshape(xhat, channelView)), [0, 3], false), [c]) : undefined;
  const dBias = wants[2] ? op.reshape(op.reduceSum(gg, [0, 3], false), [c]) : undefined;
  return [dx, dScale, dBias];
}

/** LayerNorm over the last axis: x [..., D], γ [D], β [D]. */
export function layerNormVjp([x, scale]: readonly Tensor[], grad: Tensor, eps: number, wants: readonly boolean[]): (Tensor | undefined)[] {
  const { dx, xhat } = normalizeBackward(x, grad, scale, eps);
  const lead = x.shape.slice(0, -1).map((_, i) => i);
  return [
    wants[0] ? dx : undefined,
    wants[1] ? op.reduceSum(op.mul(grad, xhat), lead, false) : undefined,
    wants[2] ? op.reduceSum(grad, lead, false) : undefined,
  ];
}
