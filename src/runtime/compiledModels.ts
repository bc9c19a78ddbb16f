// IR graphs fix their input shapes, so a model that serves several shapes (batch, latent size, options) is
// compiled once per shape. This keeps those compiled models by a caller-chosen key: compiled on first use
// (concurrent callers share one compile), a failed compile forgotten so the next call retries, all
// released together.
import type { Graph } from '../graph/graph.ts';
import type { WeightStore } from '../graph/weights.ts';
import { compile, type CompileOptions, type CompiledModel } from './session.ts';

export interface CompiledModels {
  /** The model for `key`, compiling `build()` on first use. */
  get(key: string, build: () => Graph): Promise<CompiledModel>;
  /** Releases every compiled model (a failed compile holds nothing); later calls to get() compile again. */
  release(): Promise<void>;
}

export function compiledModels(weights: WeightStore, opts: CompileOptions = {}): CompiledModels {
  const models = new Map<string, Promise<CompiledModel>>();
  return {
    get(key, build) {
      let m = models.get(key);
      if (!m) {
        m = compile(build(), weights, opts);
        models.set(key, m);
        m.catch(() => models.delete(key));
      }
      return m;
    },
    async release() {
      const all = [...models.values()];
      models.clear();
      for (const m of all) await (await m.catch(() => undefined))?.release();
    },
  };
}
