// k-diffusion sample_lcm (Latent Consistency Model sampling): jump to the denoised latent, then
// re-noise it to the next sigma with fresh noise:  x ← D(x, σ_i);  x ← x + ε·σ_{i+1} if σ_{i+1} > 0.
import { callModel, type SamplerFunction } from './types.ts';

export const sampleLcm: SamplerFunction = async (x, { model, sigmas, callback, signal, createNoiseSampler, modelSampling }) => {
  const noiseSampler = createNoiseSampler();
  for (let i = 0; i < sigmas.length - 1; i++) {
    signal?.throwIfAborted();
    const denoised = await callModel(model, x, sigmas[i]);
    callback?.(i, denoised, x);
    x = denoised;
    if (sigmas[i + 1] > 0) {
      x = modelSampling.noiseScaling(sigmas[i + 1], noiseSampler(sigmas[i], sigmas[i + 1]), x, false);
    }
  }
  return x;
};
