// Reproduces diffusers v0.21.0's own scheduler tests (tests/schedulers/test_scheduler_{unipc,dpm_multi,ddim}.py):
// their deterministic sample, their dummy model, 10 steps, and the 4-decimal numbers they assert.
import { describe, it, expect } from 'vitest';
import { createTorchGenerator } from '../torchRandom.ts';
import { createScheduler, fromConfig } from './index.ts';
import type { DiffusersScheduler } from './types.ts';
import { dummyModel, dummySample } from '../../../test/diffusersDummies.ts';

const f32 = Math.fround;

/** diffusers' full_loop: no scale_model_input, step gets the model output of the unscaled sample. */
function fullLoop(sch: DiffusersScheduler, eta?: number): Float32Array {
  sch.setTimesteps(10);
  let x = dummySample();
  for (const t of sch.timesteps) x = sch.step(dummyModel(x, t), t, x, { eta }).prevSample;
  return x;
}

const absSum = (x: Float32Array): number => x.reduce((s, v) => s + Math.abs(v), 0);
const absMean = (x: Float32Array): number => absSum(x) / x.length;

const linear = { num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };
const unipcConfig = { ...linear, solver_order: 2, solver_type: 'bh2' };
const dpmConfig = {
  ...linear,
  solver_order: 2,
  prediction_type: 'epsilon',
  thresholding: false,
  sample_max_value: 1.0,
  algorithm_type: 'dpmsolver++',
  solver_type: 'midpoint',
  lower_order_final: false,
  lambda_min_clipped: -Infinity,
  variance_type: null,
};

describe('diffusers test harness: UniPCMultistepScheduler (mean |x| after 10 steps, ±1e-3)', () => {
  const cases: [string, Record<string, unknown>, number][] = [
    ['no_noise', {}, 0.2464],
    ['karras', { use_karras_sigmas: true }, 0.2925],
    ['v_prediction', { prediction_type: 'v_prediction' }, 0.1014],
    ['karras + v_prediction', { prediction_type: 'v_prediction', use_karras_sigmas: true }, 0.1966],
  ];
  for (const [name, extra, expected] of cases) {
    it(name, () => {
      const mean = absMean(fullLoop(createScheduler('UniPCMultistepScheduler', { ...unipcConfig, ...extra })));
      console.log(`[harness] UniPC ${name}: mean|x| ${mean.toFixed(6)} (diffusers ${expected})`);
      expect(Math.abs(mean - expected)).toBeLessThan(1e-3);
    });
  }

  it('switch: UniPC → DPM-Solver++ → UniPC via fromConfig keeps the result (test_switch)', () => {
    const unipc = createScheduler('UniPCMultistepScheduler', unipcConfig);
    const dpm = fromConfig('DPMSolverMultistepScheduler', unipc.config);
    const back = fromConfig('UniPCMultistepScheduler', dpm.config);
    expect(back.config.solver_type).toBe('bh2');
    expect(Math.abs(absMean(fullLoop(back)) - 0.2464)).toBeLessThan(1e-3);
  });

  it('1000 steps over 1000 train steps gives unique timesteps (test_unique_timesteps)', () => {
    const sch = createScheduler('UniPCMultistepScheduler', unipcConfig);
    sch.setTimesteps(1000);
    expect(new Set(sch.timesteps).size).toBe(sch.timesteps.length);
    expect(sch.timesteps.length).toBeGreaterThan(900);
  });
});

describe('diffusers test harness: DPMSolverMultistepScheduler (mean |x| after 10 steps, ±1e-3)', () => {
  const cases: [string, Record<string, unknown>, number][] = [
    ['no_noise', {}, 0.3301],
    ['v_prediction', { prediction_type: 'v_prediction' }, 0.2251],
    ['karras + v_prediction', { prediction_type: 'v_prediction', use_karras_sigmas: true }, 0.2096],
  ];
  for (const [name, extra, expected] of cases) {
    it(name, () => {
      const mean = absMean(fullLoop(createScheduler('DPMSolverMultistepScheduler', { ...dpmConfig, ...extra })));
      console.log(`[harness] DPM++ ${name}: mean|x| ${mean.toFixed(6)} (diffusers ${expected})`);
      expect(Math.abs(mean - expected)).toBeLessThan(1e-3);
    });
  }
});

describe('diffusers test harness: DDIMScheduler (Σ|x| after 10 steps, ±1e-2 as diffusers)', () => {
  const cases: [string, Record<string, unknown>, number, number][] = [
    ['no_noise', {}, 172.0067, 0.223967],
    ['v_prediction', { prediction_type: 'v_prediction' }, 52.5302, 0.0684],
    ['set_alpha_to_one', { set_alpha_to_one: true, beta_start: 0.01 }, 149.8295, 0.1951],
    ['no set_alpha_to_one', { set_alpha_to_one: false, beta_start: 0.01 }, 149.0784, 0.1941],
  ];
  for (const [name, extra, sum, mean] of cases) {
    it(name, () => {
      const x = fullLoop(createScheduler('DDIMScheduler', { ...linear, clip_sample: true, ...extra }), 0);
      console.log(`[harness] DDIM ${name}: Σ|x| ${absSum(x).toFixed(4)} (diffusers ${sum})`);
      expect(Math.abs(absSum(x) - sum)).toBeLessThan(1e-2);
      expect(Math.abs(absMean(x) - mean)).toBeLessThan(1e-3);
    });
  }

  it('steps_offset 1, 5 steps → 801 601 401 201 1 (test_steps_offset)', () => {
    const sch = createScheduler('DDIMScheduler', { ...linear, steps_offset: 1 });
    sch.setTimesteps(5);
    expect(sch.timesteps).toEqual([801, 601, 401, 201, 1]);
  });
});

describe('diffusers test harness: EulerAncestralDiscreteScheduler (torch.manual_seed(0) noise, Σ|x| ±1e-2)', () => {
  // test_scheduler_euler_ancestral.py: 1100 train steps, x = sample·init_noise_sigma, and the *scaled* sample is
  // what step() receives (unlike a pipeline); noise is torch.randn([4,3,8,8], generator) at every step.
  const cases: [string, Record<string, unknown>, number, number][] = [
    ['no_noise', {}, 152.3192, 0.1983],
    ['v_prediction', { prediction_type: 'v_prediction' }, 108.4439, 0.1412],
  ];
  for (const [name, extra, sum, mean] of cases) {
    it(name, () => {
      const sch = createScheduler('EulerAncestralDiscreteScheduler', { ...linear, num_train_timesteps: 1100, ...extra });
      sch.setTimesteps(10);
      const gen = createTorchGenerator(0);
      let x: Float32Array = dummySample().map((v) => f32(v * sch.initNoiseSigma));
      for (const t of sch.timesteps) {
        x = sch.scaleModelInput(x, t);
        x = sch.step(dummyModel(x, t), t, x, { noise: gen.randn([4, 3, 8, 8]) }).prevSample;
      }
      console.log(`[harness] Euler a ${name}: Σ|x| ${absSum(x).toFixed(4)} (diffusers ${sum})`);
      expect(Math.abs(absSum(x) - sum)).toBeLessThan(1e-2);
      expect(Math.abs(absMean(x) - mean)).toBeLessThan(1e-3);
    });
  }
});
