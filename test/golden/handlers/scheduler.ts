// Golden handler for diffusers scheduler trajectories (golden/schedulers/<name>/schedule.json).
// Builds the scheduler from the recorded config, runs the pipeline loop of golden/README.md with the test model
// model(x, t) = x·t/(t+1), feeding the recorded noise, and compares every recorded tensor at 1e-4.
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { it, expect } from 'vitest';
import type { GoldenHandler } from '../handler.ts';
import { fileExists, readBin, expectClose, type BinDType } from '../io.ts';
import { createScheduler, parsePythonJson, resolveSchedulerClass } from '../../../src/sampling/diffusers/index.ts';
import type { DiffusersScheduler, StepOptions } from '../../../src/sampling/diffusers/index.ts';
import { dummyModel, dummySample } from '../../diffusersDummies.ts';

const TOL = 1e-4;
const f32 = Math.fround;

interface TensorEntry {
  file: string;
  dtype: BinDType;
  shape: number[];
}

interface Schedule {
  class: string;
  config: Record<string, unknown>;
  num_inference_steps: number;
  step_kwargs: Record<string, unknown>;
  timesteps: number[];
  init_noise_sigma: number;
  tensors: Record<string, TensorEntry>;
}

function readSchedule(dir: string): Schedule | null {
  const path = join(dir, 'schedule.json');
  if (!fileExists(path)) return null;
  try {
    const s = parsePythonJson(readFileSync(path, 'utf8')) as Partial<Schedule>;
    return typeof s?.class === 'string' && s.config && s.tensors ? (s as Schedule) : null;
  } catch {
    return null;
  }
}

function tensor(dir: string, s: Schedule, name: string): number[] | Float32Array | Float64Array | null {
  const e = s.tensors[name];
  if (!e) return null;
  const data = readBin(join(dir, e.file), e.dtype);
  return data instanceof BigInt64Array ? Array.from(data, Number) : (data as Float32Array | Float64Array);
}

function register(dir: string): void {
  const s = readSchedule(dir)!;
  const label = `${basename(dir)} (${s.class})`;
  let cls: string;
  try {
    cls = resolveSchedulerClass(s.class);
  } catch {
    it.todo(`${s.class}: no TypeScript scheduler for this class yet`);
    return;
  }
  const build = (): DiffusersScheduler => {
    const sch = createScheduler(cls, s.config);
    sch.setTimesteps(s.num_inference_steps);
    return sch;
  };

  it('schedule: timesteps, sigmas, ᾱ and coefficients', () => {
    const sch = build();
    const ts = tensor(dir, s, 'timesteps') ?? s.timesteps;
    expect(Array.from(sch.timesteps)).toEqual(Array.from(ts));
    expect(sch.initNoiseSigma).toBeCloseTo(s.init_noise_sigma, 4);
    // UniPC and DPM-Solver also expose α_t, σ_t, λ_t.
    const coefficients = sch as unknown as Record<string, unknown>;
    const pairs: [string, ArrayLike<number> | undefined][] = [
      ['alphas_cumprod', sch.alphasCumprod],
      ['sigmas', sch.sigmas],
      ['alpha_t', coefficients.alphaT as Float32Array | undefined],
      ['sigma_t', coefficients.sigmaT as Float32Array | undefined],
      ['lambda_t', coefficients.lambdaT as Float32Array | undefined],
    ];
    for (const [name, actual] of pairs) {
      const expected = tensor(dir, s, name);
      if (!expected) continue;
      expect(actual, `${name} is recorded but the scheduler does not expose it`).toBeDefined();
      expectClose(`${label} ${name}`, actual!, expected, TOL);
    }
  });

  it('trajectory: model inputs, prev samples and intermediates (free-running loop)', () => {
    const sch = build();
    const n = sch.timesteps.length;
    const x0 = dummySample();
    const size = x0.length;
    const noise = tensor(dir, s, 'noise') as Float32Array | null;
    const eta = typeof s.step_kwargs.eta === 'number' ? s.step_kwargs.eta : undefined;
    const got: Record<string, Float32Array> = {};
    const put = (name: string, i: number, v: Float32Array | undefined) => {
      if (!v) return;
      got[name] ??= new Float32Array(n * size);
      got[name].set(v, i * size);
    };
    let x: Float32Array = x0.map((v) => f32(v * sch.initNoiseSigma));
    const initial = tensor(dir, s, 'initial_sample');
    if (initial) expectClose(`${label} initial_sample`, x, initial, TOL);
    sch.timesteps.forEach((t, i) => {
      const xIn = sch.scaleModelInput(x, t);
      const eps = dummyModel(xIn, t);
      const opts: StepOptions = { eta, noise: noise ? noise.subarray(i * size, (i + 1) * size) : undefined };
      const r = sch.step(eps, t, x, opts);
      put('model_inputs', i, xIn);
      put('model_outputs', i, eps);
      put('prev_samples', i, r.prevSample);
      put('pred_original_samples', i, r.predOriginalSample);
      put('converted_model_outputs', i, r.convertedModelOutput);
      put('corrected_samples', i, r.correctedSample);
      x = r.prevSample;
    });
    const names = ['model_inputs', 'model_outputs', 'prev_samples', 'pred_original_samples', 'converted_model_outputs', 'corrected_samples'];
    let checked = 0;
    for (const name of names) {
      const expected = tensor(dir, s, name);
      if (!expected) continue;
      expect(got[name], `${name} is recorded but the scheduler does not produce it`).toBeDefined();
      expectClose(`${label} ${name}`, got[name], expected, TOL);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(3);
  });
}

export const handler: GoldenHandler = {
  name: 'scheduler',
  recognise: (dir) => readSchedule(dir) !== null,
  register,
};
