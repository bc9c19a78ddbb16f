// k-diffusion sample_euler_ancestral (eta = 1, s_noise = 1):
//   σ_up = min(σ_{i+1}, √(σ_{i+1}²(σ_i² − σ_{i+1}²)/σ_i²)),  σ_down = √(σ_{i+1}² − σ_up²)
//   x ← x + d·(σ_down − σ_i) + ε·σ_up     (x ← D when σ_down = 0; no noise is drawn then)
import { f32, sqrtF32, toD } from './float32.ts';
import { callModel, type SamplerFunction } from './types.ts';

/** get_ancestral_step in float32: [sigmaDown, sigmaUp]. */
export function ancestralStep(sigmaFrom: number, sigmaTo: number, eta = 1): [number, number] {
  if (!eta) return [sigmaTo, 0];
  const to2 = f32(sigmaTo * sigmaTo);
  const from2 = f32(sigmaFrom * sigmaFrom);
  const up = Math.min(sigmaTo, f32(eta * sqrtF32(f32(f32(to2 * f32(from2 - to2)) / from2))));
  const down = sqrtF32(f32(to2 - f32(up * up)));
  return [down, up];
}

export const sampleEulerAncestral: SamplerFunction = async (x, { model, sigmas, callback, signal, createNoiseSampler }) => {
  const noiseSampler = createNoiseSampler();
  for (let i = 0; i < sigmas.length - 1; i++) {
    signal?.throwIfAborted();
    const denoised = await callModel(model, x, sigmas[i]);
    const [sigmaDown, sigmaUp] = ancestralStep(sigmas[i], sigmas[i + 1]);
    callback?.(i, denoised, x);
    if (sigmaDown === 0) {
      x = denoised;
      continue;
    }
    const d = toD(x, denoised, sigmas[i]);
    const dt = f32(sigmaDown - sigmas[i]);
    const noise = noiseSampler(sigmas[i], sigmas[i + 1]);
    const next = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) next[k] = f32(x[k] + f32(d[k] * dt)) + f32(noise[k] * sigmaUp);
    x = next;
  }
  return x;
};
