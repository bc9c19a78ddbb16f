// Exponential moving average of the trained parameters (diffusers EMAModel without power warmup):
// at update n (from 1) decay_n = min(decay, (1 + n)/(10 + n)); shadow ← decay_n·shadow + (1 − decay_n)·θ.

export interface EmaState {
  updates: number;
  shadow: Record<string, Float32Array>;
}

export function createEma(params: Readonly<Record<string, Float32Array>>): EmaState {
  return { updates: 0, shadow: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, Float32Array.from(v)])) };
}

export function emaDecayAt(decay: number, update: number): number {
  return Math.min(decay, (1 + update) / (10 + update));
}

export function updateEma(ema: EmaState, params: Readonly<Record<string, Float32Array>>, decay: number): void {
  ema.updates += 1;
  const d = emaDecayAt(decay, ema.updates);
  for (const [name, p] of Object.entries(params)) {
    const s = ema.shadow[name];
    for (let i = 0; i < p.length; i++) s[i] = d * s[i] + (1 - d) * p[i];
  }
}
