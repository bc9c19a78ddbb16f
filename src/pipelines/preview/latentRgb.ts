// Latent → RGB by ComfyUI's linear factors (comfy/latent_formats.py; latent_preview.py Latent2RGBPreviewer):
// each pixel's RGB is a fixed 4→3 linear map (plus a bias for SDXL) of the model-space latent (already ×
// scaling factor, as the sampler holds it), then ((v + 1) / 2) clamped to [0, 1] and × 255, truncated to a
// byte as torch's uint8 cast does. One multiply-add per channel: free next to a UNet step, at latent size.
import type { PreviewFamily } from '../../models/taesd/loadTaesd.ts';

export interface LatentRgbFactors {
  /** [latent channel][R, G, B]. */
  readonly factors: readonly (readonly [number, number, number])[];
  readonly bias: readonly [number, number, number];
}

/** ComfyUI's SD15 format; SD2 models use the same latent space (supported_models.SD20 → latent_formats.SD15). */
const SD1: LatentRgbFactors = {
  factors: [
    [0.3512, 0.2297, 0.3227],
    [0.325, 0.4974, 0.235],
    [-0.2829, 0.1762, 0.2721],
    [-0.212, -0.2616, -0.7177],
  ],
  bias: [0, 0, 0],
};

/** ComfyUI's SDXL format: its own factors and a bias (SD1's factors give SDXL previews the wrong colours). */
const SDXL: LatentRgbFactors = {
  factors: [
    [0.3651, 0.4232, 0.4341],
    [-0.2533, -0.0042, 0.1068],
    [0.1076, 0.1111, -0.0362],
    [-0.3165, -0.2492, -0.2188],
  ],
  bias: [0.1084, -0.0175, -0.0011],
};

export function latentRgbFactors(family: PreviewFamily): LatentRgbFactors {
  return family === 'sdxl' ? SDXL : SD1;
}

/** The first batch entry of a model-space latent [B, C, h, w] as h·w·3 RGB bytes. */
export function latentToRgb(latent: Float32Array, shape: readonly number[], family: PreviewFamily): Uint8Array {
  const [, c, h, w] = shape;
  const { factors, bias } = latentRgbFactors(family);
  if (c !== factors.length) throw new Error(`latent preview: ${family} latents have ${factors.length} channels, got ${c}`);
  const n = h * w;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 3; k++) {
      let v = bias[k];
      for (let ch = 0; ch < c; ch++) v += latent[ch * n + i] * factors[ch][k];
      out[i * 3 + k] = Math.min(1, Math.max(0, (v + 1) / 2)) * 255;
    }
  }
  return out;
}
