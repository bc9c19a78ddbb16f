// k-diffusion sample_dpmpp_2m (DPM-Solver++(2M), Lu et al. 2022) with t = −log σ, h = t_{i+1} − t_i:
//   first step and σ_{i+1} = 0:  x ← (σ_{i+1}/σ_i)·x − (e^{−h} − 1)·D_i
//   otherwise, r = h_{i−1}/h:    D' = (1 + 1/2r)·D_i − (1/2r)·D_{i−1},  x ← (σ_{i+1}/σ_i)·x − (e^{−h} − 1)·D'
import { expF32, expm1F32, f32, logF32 } from './float32.ts';
import { callModel, type SamplerFunction } from './types.ts';

const tOf = (sigma: number): number => -logF32(sigma);
const sigmaOf = (t: number): number => expF32(-t);

export const sampleDpmpp2m: SamplerFunction = async (x, { model, sigmas, callback, signal }) => {
  let oldDenoised: Float32Array | null = null;
  for (let i = 0; i < sigmas.length - 1; i++) {
    signal?.throwIfAborted();
    const denoised = await callModel(model, x, sigmas[i]);
    callback?.(i, denoised, x);
    const t = tOf(sigmas[i]);
    const tNext = tOf(sigmas[i + 1]);
    const h = f32(tNext - t);
    const ratio = f32(sigmaOf(tNext) / sigmaOf(t));
    const phi = expm1F32(-h);
    let target = denoised;
    if (oldDenoised !== null && sigmas[i + 1] !== 0) {
      const hLast = f32(t - tOf(sigmas[i - 1]));
      const r = f32(hLast / h);
      const inv2r = f32(1 / f32(2 * r));
      const a = f32(1 + inv2r);
      target = new Float32Array(x.length);
      for (let k = 0; k < x.length; k++) target[k] = f32(a * denoised[k]) - f32(inv2r * oldDenoised[k]);
    }
    const next = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) next[k] = f32(ratio * x[k]) - f32(phi * target[k]);
    x = next;
    oldDenoised = denoised;
  }
  return x;
};
