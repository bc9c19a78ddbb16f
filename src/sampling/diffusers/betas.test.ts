import { describe, it, expect } from 'vitest';
import {
  alphasCumprod,
  karrasTimesteps,
  makeBetas,
  multistepTimesteps,
  roundHalfEven,
  singleStepTimesteps,
  torchLinspaceF32,
  trainSigmas,
  uniqueInOrder,
} from './betas.ts';

const f32 = Math.fround;
const sd = { num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', trained_betas: null } as const;

describe('beta schedules', () => {
  it('torch.linspace float32 hits both ends exactly', () => {
    const l = torchLinspaceF32(0.0001, 0.02, 1000);
    expect(l[0]).toBe(f32(0.0001));
    expect(l[999]).toBe(f32(0.02));
    expect(torchLinspaceF32(3, 3, 1)).toEqual(new Float32Array([3]));
  });

  it('SD scaled_linear: σ_0 and σ_max are the float32 values diffusers reports (0.02916753, 14.614645)', () => {
    const sigmas = trainSigmas(alphasCumprod(makeBetas(sd)));
    expect(sigmas[0]).toBe(f32(0.029167532920837402));
    expect(sigmas[999]).toBe(f32(14.614645004272461));
  });

  it('squaredcos_cap_v2: ᾱ decreases from ~1 and the last β is capped at 0.999', () => {
    const betas = makeBetas({ ...sd, beta_schedule: 'squaredcos_cap_v2' });
    expect(betas[999]).toBe(f32(0.999));
    const ac = alphasCumprod(betas);
    expect(ac[0]).toBeGreaterThan(0.9999);
    for (let i = 1; i < 1000; i++) expect(ac[i]).toBeLessThan(ac[i - 1]);
  });

  it('trained_betas bypass the schedule', () => {
    expect(makeBetas({ ...sd, num_train_timesteps: 3, trained_betas: [0.1, 0.2, 0.3] })).toEqual(Float32Array.from([0.1, 0.2, 0.3]));
  });
});

describe('timestep spacing', () => {
  it('numpy rounding is half to even', () => {
    expect([0.5, 1.5, 2.5, 499.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, 500, 2, 3]);
  });

  it('multistep linspace, 10 steps: 999 899 … 500 400 … 100', () => {
    expect(multistepTimesteps('linspace', 1000, 10, 0)).toEqual([999, 899, 799, 699, 599, 500, 400, 300, 200, 100]);
  });

  it('multistep leading with steps_offset 1 (the SDRO DDPM config), 20 and 4 steps', () => {
    const ts = multistepTimesteps('leading', 1000, 20, 1);
    expect(ts).toEqual(Array.from({ length: 20 }, (_, i) => 941 - 47 * i));
    expect(multistepTimesteps('leading', 1000, 4, 1)).toEqual([801, 601, 401, 201]);
  });

  it('trailing ends at T−1 and steps by T/N', () => {
    expect(multistepTimesteps('trailing', 1000, 4, 0)).toEqual([999, 749, 499, 249]);
    // np.round(np.arange(1000, 0, -1000/3)) = 1000, 667, 333, then − 1
    expect(singleStepTimesteps('trailing', 1000, 3, 0, true)).toEqual([999, 666, 332]);
  });

  it('single-step linspace: DDIM rounds, Euler keeps float32', () => {
    expect(singleStepTimesteps('linspace', 1000, 10, 0, true)).toEqual([999, 888, 777, 666, 555, 444, 333, 222, 111, 0]);
    const euler = singleStepTimesteps('linspace', 1000, 20, 0, false);
    expect(euler[1]).toBe(f32((999 * 18) / 19));
    expect(singleStepTimesteps('leading', 1000, 10, 1, true)).toEqual([901, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
  });

  it('Karras timesteps for SD, 10 steps (v0.21): 999 916 815 687 523 327 146 41 7 0, sigmas ascending', () => {
    const { timesteps, sigmas } = karrasTimesteps(trainSigmas(alphasCumprod(makeBetas(sd))), 10);
    expect(timesteps).toEqual([999, 916, 815, 687, 523, 327, 146, 41, 7, 0]);
    expect(sigmas[0]).toBeCloseTo(0.02916753, 7);
    expect(sigmas[9]).toBeCloseTo(14.614645, 5);
  });

  it('repeated timesteps are dropped, first occurrences kept in order', () => {
    expect(uniqueInOrder([5, 5, 3, 5, 1, 1])).toEqual([5, 3, 1]);
  });
});
