// k-diffusion sample_euler (Karras et al. 2022, Algorithm 2 without churn):
//   d = (x − D(x, σ_i)) / σ_i,   x ← x + d·(σ_{i+1} − σ_i)
import { addScaled, f32, toD } from './float32.ts';
import { callModel, type SamplerFunction } from './types.ts';

export const sampleEuler: SamplerFunction = async (x, { model, sigmas, callback, signal }) => {
  for (let i = 0; i < sigmas.length - 1; i++) {
    signal?.throwIfAborted();
    const denoised = await callModel(model, x, sigmas[i]);
    const d = toD(x, denoised, sigmas[i]);
    callback?.(i, denoised, x);
    x = addScaled(x, d, f32(sigmas[i + 1] - sigmas[i]));
  }
  return x;
};
