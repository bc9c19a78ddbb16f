// k-diffusion sample_dpmpp_2m_sde (midpoint solver, eta = 1, s_noise = 1), λ = −log σ, h = λ_{i+1} − λ_i:
//   x ← (σ_{i+1}/σ_i)·e^{−h}·x + α_t·(1 − e^{−2h})·D_i,   α_t = σ_{i+1}·e^{λ_{i+1}} (= 1 for EPS)
//   with history, r = h_{i−1}/h:  x ← x + ½·α_t·(1 − e^{−2h})·(1/r)·(D_i − D_{i−1})
//   x ← x + ε·σ_{i+1}·√(1 − e^{−2h});   the last step (σ_{i+1} = 0) returns D.
// ComfyUI draws ε from a torchsde BrownianTree; here ε comes from the context's noise sampler
// (a torch-compatible generator seeded with the seed). Each ε is standard normal and independent
// across steps, as the Brownian increments are, but the numbers differ from ComfyUI's.
import { expF32, expm1F32, f32, logF32, sqrtF32 } from './float32.ts';
import { callModel, type SamplerFunction } from './types.ts';

export const sampleDpmpp2mSde: SamplerFunction = async (x, { model, sigmas, callback, signal, createNoiseSampler }) => {
  if (sigmas.length <= 1) return x;
  const eta = 1;
  const noiseSampler = createNoiseSampler();
  let oldDenoised: Float32Array | null = null;
  let hLast = 0;
  let h = 0;
  for (let i = 0; i < sigmas.length - 1; i++) {
    signal?.throwIfAborted();
    const sigma = sigmas[i];
    const sigmaNext = sigmas[i + 1];
    const denoised = await callModel(model, x, sigma);
    callback?.(i, denoised, x);
    if (sigmaNext === 0) {
      x = denoised;
    } else {
      const lambdaS = -logF32(sigma);
      const lambdaT = -logF32(sigmaNext);
      h = f32(lambdaT - lambdaS);
      const hEta = f32(h * (eta + 1));
      const alphaT = f32(sigmaNext * expF32(lambdaT));
      const cx = f32(f32(sigmaNext / sigma) * expF32(f32(-h * eta)));
      const oneMinus = -expm1F32(-hEta);
      const cd = f32(alphaT * oneMinus);
      const next = new Float32Array(x.length);
      for (let k = 0; k < x.length; k++) next[k] = f32(cx * x[k]) + f32(cd * denoised[k]);
      if (oldDenoised !== null) {
        const r = f32(hLast / h);
        const c = f32(f32(f32(0.5 * alphaT) * oneMinus) * f32(1 / r));
        for (let k = 0; k < x.length; k++) next[k] = next[k] + f32(c * f32(denoised[k] - oldDenoised[k]));
      }
      const noise = noiseSampler(sigma, sigmaNext);
      const cn = sqrtF32(-expm1F32(f32(-2 * h * eta)));
      for (let k = 0; k < x.length; k++) next[k] = next[k] + f32(f32(noise[k] * sigmaNext) * cn);
      x = next;
    }
    oldDenoised = denoised;
    hLast = h;
  }
  return x;
};
