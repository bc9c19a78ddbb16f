// Optimisers, schedules, clipping, EMA and the rng against the formulas written out by hand.
import { describe, it, expect } from 'vitest';
import { createOptimizerState, optimizerStep, type OptimizerConfig } from './optimizer.ts';
import { learningRate } from './lrSchedule.ts';
import { accumulateGradients, clipGradNorm, scaleGradients } from './gradients.ts';
import { createEma, updateEma } from './ema.ts';
import { createTrainRng } from './trainRng.ts';

function run(cfg: OptimizerConfig, p0: number, grads: number[], lr: number): number[] {
  const params = { p: Float32Array.of(p0) };
  const state = createOptimizerState(cfg, params);
  return grads.map((g) => {
    optimizerStep(cfg, state, params, { p: Float32Array.of(g) }, lr);
    return params.p[0];
  });
}

describe('optimisers (torch.optim formulas)', () => {
  it('AdamW: decoupled decay, bias-corrected moments', () => {
    const [b1, b2, eps, lr, wd] = [0.9, 0.999, 1e-8, 0.1, 0.01];
    let p = 1;
    let m = 0;
    let v = 0;
    const expected = [0.5, -0.25].map((g, i) => {
      const t = i + 1;
      p *= 1 - lr * wd;
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g * g;
      p -= (lr * (m / (1 - b1 ** t))) / (Math.sqrt(v / (1 - b2 ** t)) + eps);
      return p;
    });
    const got = run({ name: 'adamw', weightDecay: wd }, 1, [0.5, -0.25], lr);
    got.forEach((v2, i) => expect(v2).toBeCloseTo(expected[i], 6));
    // The first Adam step moves by lr·sign(g), whatever |g| is.
    expect(run({ name: 'adam' }, 1, [123], 0.1)[0]).toBeCloseTo(0.9, 6);
    expect(run({ name: 'adam' }, 1, [-1e-3], 0.1)[0]).toBeCloseTo(1.1, 5);
  });

  it('Adam puts weight decay into the gradient; AdamW does not', () => {
    // With g = 0, Adam's step comes only from wd·p; AdamW only shrinks p by lr·wd.
    expect(run({ name: 'adam', weightDecay: 0.5 }, 2, [0], 0.1)[0]).toBeCloseTo(1.9, 6);
    expect(run({ name: 'adamw', weightDecay: 0.5 }, 2, [0], 0.1)[0]).toBeCloseTo(2 * (1 - 0.05), 6);
  });

  it('SGD with momentum and Nesterov', () => {
    const plain = run({ name: 'sgd', momentum: 0.9 }, 1, [1, 1], 0.1);
    expect(plain[0]).toBeCloseTo(0.9, 6); // buf = g
    expect(plain[1]).toBeCloseTo(0.9 - 0.1 * 1.9, 6); // buf = 0.9·1 + 1
    expect(run({ name: 'sgd', momentum: 0.9, nesterov: true }, 1, [1], 0.1)[0]).toBeCloseTo(1 - 0.1 * 1.9, 6);
    expect(run({ name: 'sgd', momentum: 0 }, 1, [2], 0.1)[0]).toBeCloseTo(0.8, 6);
  });

  it('each optimiser minimises a quadratic', () => {
    for (const cfg of [{ name: 'adamw', weightDecay: 0 }, { name: 'adam' }, { name: 'sgd', momentum: 0.5 }] as OptimizerConfig[]) {
      const params = { p: Float32Array.of(-2, 5) };
      const state = createOptimizerState(cfg, params);
      for (let i = 0; i < 400; i++) optimizerStep(cfg, state, params, { p: Float32Array.from(params.p, (v) => 2 * (v - 3)) }, 0.05);
      for (const v of params.p) expect(Math.abs(v - 3), cfg.name).toBeLessThan(1e-2);
    }
  });

  it('refuses a gradient that does not fit', () => {
    const params = { p: new Float32Array(3) };
    const state = createOptimizerState({ name: 'adamw' }, params);
    expect(() => optimizerStep({ name: 'adamw' }, state, params, { p: new Float32Array(2) }, 0.1)).toThrow(/no gradient of length 3 for "p"/);
  });
});

describe('learning-rate schedules (diffusers get_scheduler)', () => {
  const base = { lr: 1e-3, warmupSteps: 10, totalSteps: 110 };
  it('constant and constant_with_warmup', () => {
    expect(learningRate({ ...base, name: 'constant' }, 0)).toBe(1e-3);
    expect(learningRate({ ...base, name: 'constant_with_warmup' }, 0)).toBe(0);
    expect(learningRate({ ...base, name: 'constant_with_warmup' }, 5)).toBeCloseTo(5e-4, 12);
    expect(learningRate({ ...base, name: 'constant_with_warmup' }, 50)).toBe(1e-3);
  });
  it('linear and cosine decay to zero at the last step after the warmup', () => {
    expect(learningRate({ ...base, name: 'linear' }, 5)).toBeCloseTo(5e-4, 12);
    expect(learningRate({ ...base, name: 'linear' }, 10)).toBeCloseTo(1e-3, 12);
    expect(learningRate({ ...base, name: 'linear' }, 60)).toBeCloseTo(5e-4, 12);
    expect(learningRate({ ...base, name: 'linear' }, 110)).toBe(0);
    expect(learningRate({ ...base, name: 'cosine' }, 10)).toBeCloseTo(1e-3, 12);
    expect(learningRate({ ...base, name: 'cosine' }, 60)).toBeCloseTo(5e-4, 12);
    expect(learningRate({ ...base, name: 'cosine' }, 35)).toBeCloseTo(1e-3 * 0.5 * (1 + Math.cos(Math.PI / 4)), 12);
    expect(learningRate({ ...base, name: 'cosine' }, 110)).toBeCloseTo(0, 12);
  });
});

describe('gradient accumulation and clipping', () => {
  it('averages micro-batches and clips the global norm like clip_grad_norm_', () => {
    const sum: Record<string, Float32Array> = {};
    accumulateGradients(sum, { a: Float32Array.of(2), b: Float32Array.of(6) });
    accumulateGradients(sum, { a: Float32Array.of(4), b: Float32Array.of(2) });
    scaleGradients(sum, 0.5);
    expect([sum.a[0], sum.b[0]]).toEqual([3, 4]);
    expect(clipGradNorm(sum, 10)).toBeCloseTo(5, 6);
    expect([sum.a[0], sum.b[0]]).toEqual([3, 4]);
    expect(clipGradNorm(sum, 1)).toBeCloseTo(5, 6);
    expect(sum.a[0]).toBeCloseTo(3 / (5 + 1e-6), 6);
    expect(sum.b[0]).toBeCloseTo(4 / (5 + 1e-6), 6);
  });
});

describe('EMA', () => {
  it('warms its decay up as (1 + n)/(10 + n), capped at the configured decay', () => {
    const params = { p: Float32Array.of(0) };
    const ema = createEma(params);
    params.p[0] = 1;
    updateEma(ema, params, 0.99);
    expect(ema.shadow.p[0]).toBeCloseTo(1 - 2 / 11, 6);
    for (let i = 0; i < 200; i++) updateEma(ema, params, 0.5);
    expect(ema.shadow.p[0]).toBeCloseTo(1, 6);
  });
});

describe('training rng', () => {
  it('restarts from a saved state with the same draws, and draws standard normals', () => {
    const r = createTrainRng(42);
    r.normals(5);
    const saved = r.state();
    const next = Array.from(r.normals(7));
    expect(Array.from(createTrainRng(saved).normals(7))).toEqual(next);
    expect(createTrainRng(43).nextUint32()).not.toBe(createTrainRng(42).nextUint32());
    const xs = createTrainRng(1).normals(20000);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.04);
  });
});
