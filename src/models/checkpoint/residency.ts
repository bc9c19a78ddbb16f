// Which compiled models stay in memory. An SD1.5 checkpoint is ~4 GB of f32 sessions (UNet 3.4 GB,
// text encoder 0.5 GB, VAE 0.3 GB); with `one`, using a component first releases the others, which
// reload from the compile cache when needed again. `all` keeps every session (faster for repeated runs).

export type ResidencyMode = 'all' | 'one';

export interface Releasable {
  release(): Promise<void>;
}

export interface Residency {
  readonly mode: ResidencyMode;
  /** Marks `name` as the component about to run; in `one` mode the other registered components are released. */
  use(name: string, component: Releasable): Promise<void>;
  /** Releases every component used so far. */
  releaseAll(): Promise<void>;
}

export function createResidency(mode: ResidencyMode = 'all'): Residency {
  const live = new Map<string, Releasable>();
  return {
    mode,
    async use(name, component) {
      if (mode === 'one') {
        for (const [other, c] of [...live]) {
          if (other === name) continue;
          live.delete(other);
          await c.release();
        }
      }
      live.set(name, component);
    },
    async releaseAll() {
      const all = [...live.values()];
      live.clear();
      for (const c of all) await c.release();
    },
  };
}
