// Step caching (DeepCache, Ma et al. 2023): adjacent denoising steps have nearly the same deep UNet
// features, so a "full" step runs the whole UNet and keeps the input of its last up block, and the
// "shallow" steps after it recompute only the first down level and the last up block around those
// features. The schedule keeps the first and the last step full (the first has nothing to reuse; the
// last sets the fine detail of the final image) and refreshes every `interval` steps in between;
// text-to-image also keeps its first steps full (COMPOSITION_SHARE below).
// Lossy and opt-in: the error it adds is measured in bench/colorize.ts and printed by the CLI.

export class StepCacheError extends Error {
  override name = 'StepCacheError';
}

/** Largest refresh interval accepted (beyond it the cached features are stale for most of a run). */
export const MAX_CACHE_INTERVAL = 10;

/**
 * Share of a text-to-image run's first steps that always run full. Started from pure noise, the
 * high-noise steps decide the composition (where the figure, its arms and its colour regions go), and a
 * stale-feature error there moves whole shapes in the final picture; later steps only refine them.
 * Measured on the bundled tiny t2i model (20 steps dpmpp_2m/karras, cfg 8, 13 prompts; `npm run bench --
 * bundled`): one shallow step costs 37–41 dB of final-image PSNR vs uncached at steps 2–7 and 45–58 dB
 * after step 10; with every 3rd step full the worst prompt scored 24.8 dB, with the first 40 % full too
 * 33.0 dB (the first 30 %: 26.5 dB). Colouring needs none: its blueprint fixes the composition (SDRO
 * every 3rd step: 46–50 dB).
 */
export const COMPOSITION_SHARE = 0.4;

/** The number of leading full steps that protect a text-to-image composition (COMPOSITION_SHARE of `steps`). */
export function compositionSteps(steps: number): number {
  return Math.ceil(COMPOSITION_SHARE * steps);
}

/**
 * full[i]: model call i runs the whole UNet. interval 1 = every call full (no caching). The first
 * `fullFirst` calls also run full (compositionSteps for text-to-image).
 */
export function fullStepSchedule(calls: number, interval: number, fullFirst = 0): boolean[] {
  if (!Number.isInteger(interval) || interval < 1 || interval > MAX_CACHE_INTERVAL) {
    throw new StepCacheError(`cache interval must be an integer in [1, ${MAX_CACHE_INTERVAL}] (full UNet every N steps), got ${interval}`);
  }
  return Array.from({ length: calls }, (_, i) => i === 0 || i === calls - 1 || i < fullFirst || i % interval === 0);
}

export interface CachedUNetCalls<I> {
  /** The whole UNet, returning its output and the deep features to reuse. */
  full(input: I): Promise<{ sample: Float32Array; deepFeatures: Float32Array }>;
  /** The shallow UNet on the features of the last full call. */
  shallow(input: I, deepFeatures: Float32Array): Promise<Float32Array>;
}

/**
 * One model function over a schedule: a call during step k runs full when `schedule[k]` (or past its
 * end), else shallow. `stepOf` says which step a call belongs to (samplers with two model calls per
 * step, e.g. Heun, pass the sampler's step counter); by default call k is step k. `stats` (returned,
 * or the caller's object) counts both kinds.
 */
export function cachedModel<I>(calls: CachedUNetCalls<I>, schedule: readonly boolean[], stepOf?: () => number, stats = { full: 0, shallow: 0 }): { run(input: I): Promise<Float32Array>; stats: { full: number; shallow: number } } {
  let k = 0;
  let features: Float32Array | undefined;
  return {
    stats,
    async run(input) {
      const full = schedule[stepOf ? stepOf() : k] ?? true;
      k++;
      if (full || !features) {
        const r = await calls.full(input);
        features = r.deepFeatures;
        stats.full++;
        return r.sample;
      }
      stats.shallow++;
      return calls.shallow(input, features);
    },
  };
}
