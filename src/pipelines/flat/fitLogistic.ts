// Logistic regression by full-batch gradient descent on standardised features with a small L2 penalty:
// enough for the handful of cues of backgroundDecision.ts (hundreds to thousands of samples, < 20 features).
// Returns weights for the raw (unstandardised) features so the caller needs no scaler.

export interface LogisticFit {
  weights: number[];
  bias: number;
  /** Share of the training samples classified correctly at probability 0.5. */
  trainAccuracy: number;
}

export function fitLogistic(x: number[][], y: number[], options: { iterations?: number; rate?: number; l2?: number } = {}): LogisticFit {
  const n = x.length;
  if (!n || y.length !== n) throw new RangeError(`fitLogistic: ${n} samples but ${y.length} labels`);
  const d = x[0].length;
  const mean = new Array<number>(d).fill(0);
  const sd = new Array<number>(d).fill(0);
  for (const row of x) for (let k = 0; k < d; k++) mean[k] += row[k] / n;
  for (const row of x) for (let k = 0; k < d; k++) sd[k] += (row[k] - mean[k]) ** 2 / n;
  for (let k = 0; k < d; k++) sd[k] = Math.sqrt(sd[k]) || 1;
  const z = x.map((row) => row.map((v, k) => (v - mean[k]) / sd[k]));
  const w = new Array<number>(d).fill(0);
  let b = 0;
  const iterations = options.iterations ?? 3000;
  const rate = options.rate ?? 0.5;
  const l2 = options.l2 ?? 1e-3;
  const g = new Array<number>(d);
  for (let it = 0; it < iterations; it++) {
    g.fill(0);
    let gb = 0;
    for (let i = 0; i < n; i++) {
      let s = b;
      for (let k = 0; k < d; k++) s += w[k] * z[i][k];
      const err = 1 / (1 + Math.exp(-s)) - y[i];
      for (let k = 0; k < d; k++) g[k] += err * z[i][k];
      gb += err;
    }
    for (let k = 0; k < d; k++) w[k] -= rate * (g[k] / n + l2 * w[k]);
    b -= rate * (gb / n);
  }
  // Back to raw features: w·(x − μ)/σ + b = (w/σ)·x + (b − Σ w μ/σ).
  const weights = w.map((v, k) => v / sd[k]);
  let bias = b;
  for (let k = 0; k < d; k++) bias -= (w[k] * mean[k]) / sd[k];
  let ok = 0;
  for (let i = 0; i < n; i++) {
    let s = bias;
    for (let k = 0; k < d; k++) s += weights[k] * x[i][k];
    if ((s > 0 ? 1 : 0) === y[i]) ok++;
  }
  return { weights, bias, trainAccuracy: ok / n };
}
