// k-diffusion sample_heun (Karras et al. 2022, Algorithm 2): Euler predictor, trapezoidal corrector
//   x₂ = x + d·dt,  d₂ = (x₂ − D(x₂, σ_{i+1}))/σ_{i+1},  x ← x + ½(d + d₂)·dt
// The last step (σ_{i+1} = 0) is a plain Euler step, so N steps cost 2N − 1 model calls.
import { addScaled, f32, toD } from './float32.ts';
import { callModel, type SamplerFunction } from './types.ts';

export const sampleHeun: SamplerFunction = async (x, { model, sigmas, callback, signal }) => {
  for (let i = 0; i < sigmas.length - 1; i++) {
    signal?.throwIfAborted();
    const sigma = sigmas[i];
    const sigmaNext = sigmas[i + 1];
    const denoised = await callModel(model, x, sigma);
    const d = toD(x, denoised, sigma);
    callback?.(i, denoised, x);
    const dt = f32(sigmaNext - sigma);
    if (sigmaNext === 0) {
      x = addScaled(x, d, dt);
      continue;
    }
    const x2 = addScaled(x, d, dt);
    const d2 = toD(x2, await callModel(model, x2, sigmaNext), sigmaNext);
    const dPrime = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) dPrime[k] = f32(d[k] + d2[k]) / 2;
    x = addScaled(x, dPrime, dt);
  }
  return x;
};
