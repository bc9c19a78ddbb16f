// k-diffusion sample_dpm_2 (DPM-Solver-2 flavoured Heun): evaluate at the log-midpoint
//   σ_mid = exp(lerp(log σ_i, log σ_{i+1}, ½)),  x₂ = x + d·(σ_mid − σ_i),
//   x ← x + d₂·(σ_{i+1} − σ_i) with d₂ from D(x₂, σ_mid).  The last step (σ_{i+1} = 0) is Euler.
// KSampler gives this sampler the steps+1 schedule with the penultimate sigma removed.
import { addScaled, expF32, f32, lerpF32, logF32, toD } from './float32.ts';
import { callModel, type SamplerFunction } from './types.ts';

export const sampleDpm2: SamplerFunction = async (x, { model, sigmas, callback, signal }) => {
  for (let i = 0; i < sigmas.length - 1; i++) {
    signal?.throwIfAborted();
    const sigma = sigmas[i];
    const sigmaNext = sigmas[i + 1];
    const denoised = await callModel(model, x, sigma);
    const d = toD(x, denoised, sigma);
    callback?.(i, denoised, x);
    if (sigmaNext === 0) {
      x = addScaled(x, d, f32(sigmaNext - sigma));
      continue;
    }
    const sigmaMid = expF32(lerpF32(logF32(sigma), logF32(sigmaNext), 0.5));
    const x2 = addScaled(x, d, f32(sigmaMid - sigma));
    const d2 = toD(x2, await callModel(model, x2, sigmaMid), sigmaMid);
    x = addScaled(x, d2, f32(sigmaNext - sigma));
  }
  return x;
};
