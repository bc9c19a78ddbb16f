import { describe, it, expect } from 'vitest';
import { createScheduler, fromConfig, parsePythonJson, resolveSchedulerClass, schedulerFromConfigJson } from './index.ts';

// SD2.1's scheduler config after DDPMScheduler.save_pretrained in diffusers 0.21 (as the SDRO pipeline stores it).
const SD21_DDPM_CONFIG = `{
  "_class_name": "DDPMScheduler",
  "_diffusers_version": "0.21.0",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "clip_sample": false,
  "clip_sample_range": 1.0,
  "dynamic_thresholding_ratio": 0.995,
  "num_train_timesteps": 1000,
  "prediction_type": "epsilon",
  "sample_max_value": 1.0,
  "set_alpha_to_one": false,
  "skip_prk_steps": true,
  "steps_offset": 1,
  "thresholding": false,
  "timestep_spacing": "leading",
  "trained_betas": null,
  "variance_type": "fixed_small"
}`;

describe('SDRO: UniPCMultistepScheduler.from_config(SD2.1 DDPM config)', () => {
  const ddpm = JSON.parse(SD21_DDPM_CONFIG) as Record<string, unknown>;

  it('ignores the DDPM-only keys and keeps leading spacing with steps_offset 1: 20 steps → 941, 894, …, 48', () => {
    const sch = fromConfig('UniPCMultistepScheduler', ddpm);
    expect(sch.className).toBe('UniPCMultistepScheduler');
    expect(sch.config).toMatchObject({ timestep_spacing: 'leading', steps_offset: 1, solver_type: 'bh2', solver_order: 2, predict_x0: true });
    expect(sch.config).not.toHaveProperty('variance_type');
    sch.setTimesteps(20);
    expect(sch.timesteps).toEqual([941, 894, 847, 800, 753, 706, 659, 612, 565, 518, 471, 424, 377, 330, 283, 236, 189, 142, 95, 48]);
    expect(sch.initNoiseSigma).toBe(1);
  });

  it('4 steps → 801 601 401 201; overriding timestep_spacing to linspace → 999 749 500 250', () => {
    const a = fromConfig('UniPCMultistepScheduler', ddpm);
    a.setTimesteps(4);
    expect(a.timesteps).toEqual([801, 601, 401, 201]);
    const b = fromConfig('UniPCMultistepScheduler', ddpm, { timestep_spacing: 'linspace' });
    b.setTimesteps(4);
    expect(b.timesteps).toEqual([999, 749, 500, 250]);
  });

  it('schedulerFromConfigJson reads the file text, with the class named explicitly', () => {
    const sch = schedulerFromConfigJson(SD21_DDPM_CONFIG, 'uni_pc');
    sch.setTimesteps(20);
    expect(sch.timesteps[0]).toBe(941);
    expect(() => schedulerFromConfigJson(SD21_DDPM_CONFIG)).toThrow(/unknown scheduler "DDPMScheduler"/);
  });
});

describe('scheduler factory', () => {
  it('knows the diffusers class names and short aliases', () => {
    expect(resolveSchedulerClass('DPMSolverMultistepScheduler')).toBe('DPMSolverMultistepScheduler');
    expect(resolveSchedulerClass('dpmpp_2m')).toBe('DPMSolverMultistepScheduler');
    expect(resolveSchedulerClass('euler_ancestral')).toBe('EulerAncestralDiscreteScheduler');
    expect(resolveSchedulerClass('DDIM')).toBe('DDIMScheduler');
    expect(() => createScheduler('PNDMScheduler')).toThrow(/unknown scheduler "PNDMScheduler"; known: UniPCMultistepScheduler/);
  });

  it('reads a DPM-Solver config saved by Python (lambda_min_clipped: -Infinity)', () => {
    const sch = schedulerFromConfigJson('{"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity, "use_karras_sigmas": true}');
    expect(sch.config).toMatchObject({ lambda_min_clipped: -Infinity, use_karras_sigmas: true, algorithm_type: 'dpmsolver++' });
  });

  it('parsePythonJson maps NaN/Infinity tokens but leaves strings alone', () => {
    expect(parsePythonJson('{"a": -Infinity, "b": [Infinity, NaN], "c": "Infinity NaN", "d": "say \\"NaN\\""}')).toEqual({
      a: -Infinity,
      b: [Infinity, NaN],
      c: 'Infinity NaN',
      d: 'say "NaN"',
    });
  });

  it('final_sigmas_type "zero" (later diffusers option) makes the last step land on the x0 prediction', () => {
    for (const name of ['UniPCMultistepScheduler', 'DPMSolverMultistepScheduler']) {
      const sch = createScheduler(name, { final_sigmas_type: 'zero' });
      sch.setTimesteps(3);
      let x: Float32Array = new Float32Array([0.5, -0.25, 1]);
      let last: Float32Array | undefined;
      for (const t of sch.timesteps) {
        const r = sch.step(x.map((v) => v * 0.1), t, x);
        last = r.convertedModelOutput;
        x = r.prevSample;
      }
      expect(Array.from(x)).toEqual(Array.from(last!));
    }
  });
});

describe('bad input gives clear errors', () => {
  const x = new Float32Array(4);

  it('invalid config values name the key', () => {
    expect(() => createScheduler('DDIMScheduler', { beta_schedule: 'cosine' })).toThrow(/DDIMScheduler: invalid config: beta_schedule/);
    expect(() => createScheduler('UniPCMultistepScheduler', { solver_order: 0 })).toThrow(/solver_order/);
    expect(() => createScheduler('UniPCMultistepScheduler', null as unknown as Record<string, unknown>)).toThrow(/config must be an object/);
    expect(() => createScheduler('UniPCMultistepScheduler', { thresholding: true })).toThrow(/thresholding is not supported/);
    expect(() => createScheduler('DPMSolverMultistepScheduler', { variance_type: 'learned_range' })).toThrow(/variance_type/);
    expect(() => createScheduler('EulerAncestralDiscreteScheduler', { prediction_type: 'sample' })).toThrow(/prediction_type/);
    expect(() => createScheduler('DPMSolverMultistepScheduler', { algorithm_type: 'dpmsolver', final_sigmas_type: 'zero' })).toThrow(/final_sigmas_type/);
  });

  it('step before setTimesteps, bad step counts, size mismatches', () => {
    for (const name of ['UniPCMultistepScheduler', 'DPMSolverMultistepScheduler', 'EulerAncestralDiscreteScheduler', 'DDIMScheduler']) {
      const sch = createScheduler(name);
      expect(() => sch.step(x, 999, x, { noise: x })).toThrow(/setTimesteps/);
      expect(() => sch.setTimesteps(0)).toThrow(/positive integer/);
      sch.setTimesteps(5);
      const t = sch.timesteps[0];
      expect(() => sch.step(new Float32Array(3), t, x, { noise: x })).toThrow(/sizes differ/);
    }
    expect(() => createScheduler('DDIMScheduler').setTimesteps(1001)).toThrow(/cannot exceed/);
  });

  it('stochastic steps without noise', () => {
    const euler = createScheduler('EulerAncestralDiscreteScheduler');
    euler.setTimesteps(5);
    expect(() => euler.step(x, euler.timesteps[0], x)).toThrow(/needs opts.noise/);
    const ddim = createScheduler('DDIMScheduler');
    ddim.setTimesteps(5);
    expect(() => ddim.step(x, ddim.timesteps[0], x, { eta: 1 })).toThrow(/needs opts.noise/);
    const sde = createScheduler('DPMSolverMultistepScheduler', { algorithm_type: 'sde-dpmsolver++' });
    sde.setTimesteps(5);
    expect(() => sde.step(x, sde.timesteps[0], x)).toThrow(/needs opts.noise/);
  });

  it('Euler ancestral rejects a timestep that is not in its schedule', () => {
    const euler = createScheduler('EulerAncestralDiscreteScheduler');
    euler.setTimesteps(5);
    expect(() => euler.scaleModelInput(x, 123.5)).toThrow(/not in the schedule/);
  });
});
