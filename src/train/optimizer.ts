// Optimisers as plain state + one update function, with torch.optim's exact formulas so a run here and
// one in PyTorch agree step for step. Arithmetic in float64 per element, stored as float32.
//   AdamW (Loshchilov & Hutter): θ ← θ(1 − lr·wd); m ← β1m + (1−β1)g; v ← β2v + (1−β2)g²;
//                                θ ← θ − lr·(m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + ε)
//   Adam: as AdamW but weight decay is L2 on the gradient: g ← g + wd·θ
//   SGD:  g ← g + wd·θ; b ← μb + (1−dampening)g (b = g on the first step); θ ← θ − lr·(nesterov ? g + μb : b)

export type OptimizerName = 'adamw' | 'adam' | 'sgd';

export interface OptimizerConfig {
  name: OptimizerName;
  /** β1, β2 (Adam/AdamW). Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Default 1e-2 for AdamW (torch's default), 0 otherwise. */
  weightDecay?: number;
  /** SGD momentum, default 0.9; dampening default 0; nesterov default false. */
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
}

/** Everything an exact resume needs: the step count and per-parameter slots (Adam m, v; SGD momentum). */
export interface OptimizerState {
  step: number;
  slots: Record<string, Float32Array[]>;
}

export function slotNames(cfg: OptimizerConfig): string[] {
  return cfg.name === 'sgd' ? ['momentum'] : ['exp_avg', 'exp_avg_sq'];
}

export function createOptimizerState(cfg: OptimizerConfig, params: Readonly<Record<string, Float32Array>>): OptimizerState {
  const slots: Record<string, Float32Array[]> = {};
  for (const [name, p] of Object.entries(params)) slots[name] = slotNames(cfg).map(() => new Float32Array(p.length));
  return { step: 0, slots };
}

function weightDecayOf(cfg: OptimizerConfig): number {
  return cfg.weightDecay ?? (cfg.name === 'adamw' ? 1e-2 : 0);
}

/** Applies one update with learning rate `lr` to `params` (in place) from `grads`; advances `state`. */
export function optimizerStep(cfg: OptimizerConfig, state: OptimizerState, params: Record<string, Float32Array>, grads: Readonly<Record<string, Float32Array>>, lr: number): void {
  state.step += 1;
  const t = state.step;
  const wd = weightDecayOf(cfg);
  for (const [name, p] of Object.entries(params)) {
    const g = grads[name];
    if (!g || g.length !== p.length) throw new Error(`optimizer: no gradient of length ${p.length} for "${name}"`);
    const slots = state.slots[name];
    if (!slots) throw new Error(`optimizer: no state for "${name}" (was it added after the run started?)`);
    if (cfg.name === 'sgd') {
      const mu = cfg.momentum ?? 0.9;
      const damp = cfg.dampening ?? 0;
      const [buf] = slots;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i] + wd * p[i];
        const b = mu === 0 ? gi : t === 1 ? gi : mu * buf[i] + (1 - damp) * gi;
        buf[i] = b;
        p[i] = p[i] - lr * (cfg.nesterov ? gi + mu * b : b);
      }
      continue;
    }
    const [b1, b2] = cfg.betas ?? [0.9, 0.999];
    const eps = cfg.eps ?? 1e-8;
    const [m, v] = slots;
    const c1 = 1 - b1 ** t;
    const c2 = 1 - b2 ** t;
    for (let i = 0; i < p.length; i++) {
      let pi = p[i];
      let gi = g[i];
      if (cfg.name === 'adamw') pi *= 1 - lr * wd;
      else gi += wd * pi;
      const mi = b1 * m[i] + (1 - b1) * gi;
      const vi = b2 * v[i] + (1 - b2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] = pi - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps);
    }
  }
}
