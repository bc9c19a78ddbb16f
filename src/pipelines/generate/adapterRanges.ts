// T2I-Adapters with ComfyUI's ControlNetApplyAdvanced step range: an adapter's features are added while
// σ(end_percent) ≤ σ ≤ σ(start_percent) and not at all outside (sketchFidelity(f) gives scale and end together).
import type { UNetConfig } from '../../models/unet/config.ts';
import type { CompileOptions } from '../../runtime/session.ts';
import type { createModelSamplingDiscrete } from '../../sampling/comfy/modelSamplingDiscrete.ts';
import type { Denoiser } from '../../sampling/comfy/types.ts';
import { percentToSigma } from './controlNet.ts';
import { adapterFeatures, type T2IAdapterUse } from './t2iAdapter.ts';

export interface RangedAdapterUse extends T2IAdapterUse {
  /** Default 0. */
  startPercent?: number;
  /** Default 1. */
  endPercent?: number;
}

export class AdapterRangeError extends Error {
  override name = 'AdapterRangeError';
}

/** Does any adapter restrict its steps (otherwise the features apply at every step, as diffusers does)? */
export const hasAdapterRanges = (uses: readonly RangedAdapterUse[]): boolean => uses.some((u) => u.startPercent !== undefined || u.endPercent !== undefined);

export function validateAdapterRanges(uses: readonly RangedAdapterUse[]): void {
  for (const [i, u] of uses.entries()) {
    const a = u.startPercent ?? 0;
    const b = u.endPercent ?? 1;
    if (!(a >= 0 && a <= 1 && b >= 0 && b <= 1 && a <= b)) throw new AdapterRangeError(`T2I-Adapter ${i + 1}: start/end percent must satisfy 0 ≤ start ≤ end ≤ 1, got ${a} / ${b}`);
  }
}

export interface RangedFeatures {
  features: Float32Array[];
  sigmaHigh: number;
  sigmaLow: number;
}

/** Each adapter's scaled features and σ range (adapters with scale 0 are dropped, as ComfyUI does). */
export async function rangedAdapterFeatures(uses: readonly RangedAdapterUse[], unet: UNetConfig, ms: ReturnType<typeof createModelSamplingDiscrete>, w: number, h: number, compile?: CompileOptions, signal?: AbortSignal): Promise<RangedFeatures[]> {
  validateAdapterRanges(uses);
  const out: RangedFeatures[] = [];
  for (const u of uses) {
    const features = await adapterFeatures([u], unet, w, h, compile, signal);
    if (features) out.push({ features, sigmaHigh: percentToSigma(ms, u.startPercent ?? 0), sigmaLow: percentToSigma(ms, u.endPercent ?? 1) });
  }
  return out;
}

/**
 * Per step, the summed features of the adapters whose range holds σ — zeros when none does, which adds nothing
 * and keeps one compiled UNet (with adapter inputs) for the whole run.
 */
export function adapterRangeDenoiser(adapters: readonly RangedFeatures[], make: (f: Float32Array[]) => Denoiser): Denoiser {
  const cache = new Map<string, Denoiser>();
  return (x, sigma, ...rest) => {
    const active = adapters.map((a) => !(sigma > a.sigmaHigh || sigma < a.sigmaLow));
    const key = active.map(Number).join('');
    let d = cache.get(key);
    if (!d) {
      const sum = adapters[0].features.map((f) => new Float32Array(f.length));
      adapters.forEach((a, k) => {
        if (active[k]) a.features.forEach((f, j) => f.forEach((v, i) => (sum[j][i] += v)));
      });
      cache.set(key, (d = make(sum)));
    }
    return d(x, sigma, ...rest);
  };
}
