// The σ schedule both Euler schedulers of diffusers v0.21 share (EulerDiscrete, EulerAncestralDiscrete):
//   σ_t = √((1−ᾱ_t)/ᾱ_t) at the training timesteps, linearly interpolated at the chosen (float) timesteps, 0 appended
//   model input  x / √(σ² + 1);  init_noise_sigma = max σ, or √(max σ² + 1) with "leading" spacing
//   x0           x − σ·ε (epsilon)  or  −σ/√(σ²+1)·v + x/(σ²+1) (v_prediction)
// The step index is found from the first timestep a caller passes (the second hit when a timestep repeats,
// as diffusers does). All arithmetic is float32 per operation, as torch does.
import { singleStepTimesteps, type TimestepSpacing } from './betas.ts';

const f32 = Math.fround;

interface SigmaScheduleConfig {
  readonly num_train_timesteps: number;
  readonly timestep_spacing: TimestepSpacing;
  readonly steps_offset: number;
  readonly prediction_type: 'epsilon' | 'v_prediction';
}

export interface DiscreteSigmaSchedule {
  readonly timesteps: number[];
  readonly sigmas: Float32Array;
  readonly initNoiseSigma: number;
  setTimesteps(n: number): void;
  /** The schedule position of timestep t (throws when setTimesteps was not called or t is not in it). */
  indexOf(t: number, what: string): number;
  /** The index of the step in progress, found from t on first use; `bounded` refuses a step past the last. */
  currentIndex(t: number, what: string, bounded?: boolean): number;
  /** Moves to the next step; throws when every step was taken. */
  advance(): void;
  scaleModelInput(sample: Float32Array, t: number): Float32Array;
  /** x0 from the model output at σ. */
  predictX0(modelOutput: Float32Array, sample: Float32Array, sigma: number): Float32Array;
}

export function discreteSigmaSchedule(name: string, config: SigmaScheduleConfig, train: Float32Array): DiscreteSigmaSchedule {
  // Before setTimesteps diffusers holds the full reversed train sigmas with a trailing 0.
  let sigmas = new Float32Array(train.length + 1);
  sigmas.set(train.slice().reverse());
  let timesteps: number[] = [];
  let stepIndex: number | null = null;

  const indexOf = (t: number, what: string): number => {
    if (timesteps.length === 0) throw new Error(`${name}: call setTimesteps before ${what}`);
    const hits: number[] = [];
    timesteps.forEach((v, i) => v === t && hits.push(i));
    if (hits.length === 0) throw new Error(`${name}: timestep ${t} is not in the schedule [${timesteps.join(', ')}]`);
    return hits.length > 1 ? hits[1] : hits[0];
  };
  const currentIndex = (t: number, what: string, bounded = false): number => {
    if (timesteps.length === 0) throw new Error(`${name}: call setTimesteps before ${what}`);
    if (stepIndex === null) stepIndex = indexOf(t, what);
    if (bounded && stepIndex >= timesteps.length) throw new Error(`${name}: ${what} called more times than there are timesteps`);
    return stepIndex;
  };

  return {
    get timesteps() {
      return timesteps;
    },
    get sigmas() {
      return sigmas;
    },
    get initNoiseSigma() {
      const m = sigmas.reduce((a, s) => (s > a ? s : a), -Infinity);
      return config.timestep_spacing === 'leading' ? f32(Math.sqrt(f32(f32(m * m) + 1))) : m;
    },
    setTimesteps(n: number) {
      if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: numInferenceSteps must be a positive integer, got ${n}`);
      timesteps = singleStepTimesteps(config.timestep_spacing, config.num_train_timesteps, n, config.steps_offset, false).map(f32);
      sigmas = new Float32Array(timesteps.length + 1);
      timesteps.forEach((t, i) => (sigmas[i] = interp(t, train)));
      stepIndex = null;
    },
    indexOf,
    currentIndex,
    advance() {
      stepIndex = (stepIndex ?? 0) + 1;
    },
    scaleModelInput(sample: Float32Array, t: number) {
      const s = sigmas[currentIndex(t, 'scaleModelInput')];
      const d = f32(Math.sqrt(f32(f32(s * s) + 1)));
      return sample.map((v) => f32(v / d));
    },
    predictX0(modelOutput: Float32Array, sample: Float32Array, sigma: number) {
      const n = sample.length;
      const x0 = new Float32Array(n);
      if (config.prediction_type === 'epsilon') {
        for (let i = 0; i < n; i++) x0[i] = f32(sample[i] - f32(sigma * modelOutput[i]));
      } else {
        const s2p1 = f32(f32(sigma * sigma) + 1);
        const c = f32(-sigma / f32(Math.sqrt(s2p1)));
        for (let i = 0; i < n; i++) x0[i] = f32(f32(modelOutput[i] * c) + f32(sample[i] / s2p1));
      }
      return x0;
    },
  };
}

/** np.interp(t, arange(len), values) in float64, stored float32. */
function interp(t: number, values: Float32Array): number {
  if (t <= 0) return values[0];
  const last = values.length - 1;
  if (t >= last) return values[last];
  const j = Math.floor(t);
  if (j === t) return values[j];
  return f32((values[j + 1] - values[j]) * (t - j) + values[j]);
}
