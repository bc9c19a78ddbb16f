// The interface every diffusers-style scheduler here implements: diffusers' set_timesteps / scale_model_input /
// step, on flat float32 tensors. Randomness is never drawn inside: stochastic steps take their noise from the caller.

export interface StepOptions {
  /**
   * N(0,1) noise, one value per element, for stochastic steps: Euler ancestral (x += noise·σ_up),
   * DDIM with eta > 0 (diffusers' variance_noise) and the SDE variants of DPM-Solver.
   */
  noise?: Float32Array;
  /** DDIM only: η of DDIM eq. 16 (0 = deterministic). */
  eta?: number;
  /** DDIM only: recompute ε from the clipped x0 (diffusers' use_clipped_model_output). */
  useClippedModelOutput?: boolean;
}

export interface StepResult {
  /** x_{t−1}: the sample to feed into the next step. */
  prevSample: Float32Array;
  /** x0 prediction (DDIM, Euler ancestral). */
  predOriginalSample?: Float32Array;
  /** The model output after conversion to the solver's parametrisation (UniPC, DPM-Solver). */
  convertedModelOutput?: Float32Array;
  /** UniPC: x_t after the UniC corrector (the input x when the corrector did not run). */
  correctedSample?: Float32Array;
}

export interface DiffusersScheduler {
  /** diffusers `_class_name`, e.g. "UniPCMultistepScheduler". */
  readonly className: string;
  /** The parsed config (every key this scheduler uses, defaults filled in). */
  readonly config: Readonly<Record<string, unknown>>;
  /** ᾱ_t per train step, float32. */
  readonly alphasCumprod: Float32Array;
  /** Timesteps of the current schedule, in the order they are visited (empty before setTimesteps). */
  readonly timesteps: readonly number[];
  /** The scheduler's `sigmas` as diffusers holds them after set_timesteps (float32, or float64 for Karras). */
  readonly sigmas: Float32Array | Float64Array;
  /** Scale of the initial noise: x_T = noise · initNoiseSigma. */
  readonly initNoiseSigma: number;
  setTimesteps(numInferenceSteps: number): void;
  /** The model input for timestep t (identity except for Euler-type schedulers). */
  scaleModelInput(sample: Float32Array, t: number): Float32Array;
  /** One denoising step from t, given the model output at t and the (unscaled) sample. */
  step(modelOutput: Float32Array, t: number, sample: Float32Array, opts?: StepOptions): StepResult;
}

/** Throws a clear error when two tensors that must match in size do not. */
export function assertSameLength(what: string, a: Float32Array, b: Float32Array): void {
  if (a.length !== b.length) throw new Error(`${what}: tensor sizes differ (${a.length} vs ${b.length})`);
}
