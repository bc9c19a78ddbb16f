// Host-side gradient bookkeeping between training-graph runs: accumulation over micro-batches and
// clipping by global L2 norm (torch.nn.utils.clip_grad_norm_: scale by max/(norm + 1e-6) when above).

/** Adds `grads` into `sum` (allocating on first use). */
export function accumulateGradients(sum: Record<string, Float32Array>, grads: Readonly<Record<string, Float32Array>>): void {
  for (const [name, g] of Object.entries(grads)) {
    const s = sum[name];
    if (!s) sum[name] = Float32Array.from(g);
    else for (let i = 0; i < g.length; i++) s[i] += g[i];
  }
}

export function scaleGradients(grads: Record<string, Float32Array>, factor: number): void {
  if (factor === 1) return;
  for (const g of Object.values(grads)) for (let i = 0; i < g.length; i++) g[i] *= factor;
}

/** Global L2 norm over all gradients (float64 sum). */
export function gradNorm(grads: Readonly<Record<string, Float32Array>>): number {
  let s = 0;
  for (const g of Object.values(grads)) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return Math.sqrt(s);
}

/** Clips in place to global norm `maxNorm`; returns the norm before clipping. */
export function clipGradNorm(grads: Record<string, Float32Array>, maxNorm: number): number {
  const norm = gradNorm(grads);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) scaleGradients(grads, coef);
  return norm;
}
