// Step caching (DeepCache, Ma et al. 2023): adjacent denoising steps have nearly the same deep UNet
// features, so a "full" step runs the whole UNet and keeps the input of its last up block, and the
// "shallow" steps after it recompute only the first down level and the last up block around those
// features. The schedule keeps the first and the last step full (the first has nothing to reuse; the
// last sets the fine detail of the final image) and refreshes every `interval` steps in between.
// Lossy and opt-in: the error it adds is measured in bench/colorize.ts and printed by the CLI.

export class StepCacheError extends Error {
  override name = 'StepCacheError';
}

/** Largest refresh interval accepted (beyond it the cached features are stale for most of a run). */
export const MAX_CACHE_INTERVAL = 10;

/** full[i]: model call i runs the whole UNet. interval 1 = every call full (no caching). */
export function fullStepSchedule(calls: number, interval: number): boolean[] {
  if (!Number.isInteger(interval) || interval < 1 || interval > MAX_CACHE_INTERVAL) {
    throw new StepCacheError(`cache interval must be an integer in [1, ${MAX_CACHE_INTERVAL}] (full UNet every N steps), got ${interval}`);
  }
  return Array.from({ length: calls }, (_, i) => i === 0 || i === calls - 1 || i % interval === 0);
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
