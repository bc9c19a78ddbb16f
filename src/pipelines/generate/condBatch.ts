// KSampler's denoiser when a side has more than one prompt, an area (ConditioningSetArea) or a strength:
// ComfyUI's calc_cond_batch + cfg_function. Every prompt predicts x0 on its area's crop of x (the UNet runs
// at the crop size, cfg 1), the predictions of a side are blended with their feathered weights
// (sampling/comfy/condAreas.ts), then CFG mixes the two sides; an area on one side gets its opposite on the
// other first. The noise mask (KSamplerX0Inpaint) wraps the whole evaluation, as in ComfyUI.
import { addOppositeAreas, areaWeights, createAreaBlend, cropLatent, type LatentArea } from '../../sampling/comfy/condAreas.ts';
import type { Denoiser } from '../../sampling/comfy/types.ts';
import type { TextConditioning } from './conditioning.ts';
import type { ControlNetUse, PreparedControl } from './controlNet.ts';
import { createDenoiser, type DenoiserSetup } from './denoiser.ts';
import type { T2IAdapterUse } from './t2iAdapter.ts';

/** One prompt of a side: its (token-aligned) text, where and how strongly it applies, and its ControlNets. */
export interface CondRun {
  text: TextConditioning;
  area?: LatentArea;
  strength?: number;
  controls?: readonly ControlNetUse[];
  adapters?: readonly T2IAdapterUse[];
}

export class CondBatchError extends Error {
  override name = 'CondBatchError';
}

/** Fits a prompt's ControlNets and T2I-Adapters to a latent (crop) size. */
export interface CondFitting {
  controls(uses: readonly ControlNetUse[], width: number, height: number): PreparedControl[];
  adapters(uses: readonly T2IAdapterUse[], width: number, height: number): Promise<Float32Array[] | undefined>;
}

/**
 * The blended denoiser over `positive` and `negative` prompts. `setup` is the full-size setup (its texts, cfg,
 * controls, adapter features and noise mask are replaced). A prompt's ControlNets and T2I-Adapters run on its
 * crop with the hint fitted to the crop (as ComfyUI's get_control resizes the hint to the input it gets); an
 * area's opposite copy keeps the source's ControlNets and adapters, as ComfyUI's cond copy does. `minSide` is
 * the smallest latent side the UNet accepts.
 */
export async function condBatchDenoiser(
  setup: DenoiserSetup, positive: readonly CondRun[], negative: readonly CondRun[], fit: CondFitting, minSide: number,
): Promise<Denoiser> {
  const { batch: n, channels: c, height: h, width: w, cfg } = setup;
  const sides = [[...positive], [...negative]];
  addOppositeAreas(sides, (source, model) => ({ text: model.text, area: source.area, strength: source.strength, controls: source.controls, adapters: source.adapters }));
  const prepare = async (r: CondRun) => {
    const { area, mult } = areaWeights(r.area, r.strength ?? 1, h, w);
    if (r.area && (area.height < minSide || area.width < minSide)) {
      throw new CondBatchError(`conditioning area ${area.width}×${area.height} (latent) is smaller than this model's ${minSide}×${minSide} minimum`);
    }
    const concat = setup.inpaintConcat && r.area ? {
      mask: cropLatent(setup.inpaintConcat.mask, 1, h, w, area),
      maskedLatent: cropLatent(setup.inpaintConcat.maskedLatent, n * c, h, w, area),
    } : setup.inpaintConcat;
    const denoise = createDenoiser({
      ...setup, height: area.height, width: area.width, positive: r.text, negative: r.text, cfg: 1, noiseMask: undefined, inpaintConcat: concat,
      controls: fit.controls(r.controls ?? [], area.width, area.height), adapterFeatures: r.adapters?.length ? await fit.adapters(r.adapters, area.width, area.height) : undefined,
    });
    return { area, mult, denoise };
  };
  const conds = await Promise.all(sides[0].map(prepare));
  const useUncond = Math.abs(cfg - 1) > 1e-9; // ComfyUI skips the negative side at cfg 1
  const unconds = useUncond ? await Promise.all(sides[1].map(prepare)) : [];
  const evaluate = async (runs: typeof conds, x: Float32Array, sigma: number) => {
    const blend = createAreaBlend(n * c, h, w);
    for (const r of runs) blend.add(await r.denoise(cropLatent(x, n * c, h, w, r.area), sigma), r.area, r.mult);
    return blend.result();
  };
  const g = Math.fround(cfg);
  const blended: Denoiser = async (x, sigma) => {
    const cond = await evaluate(conds, x, sigma);
    if (!useUncond) return cond;
    const uncond = await evaluate(unconds, x, sigma);
    return cond.map((v, i) => uncond[i] + (v - uncond[i]) * g);
  };
  return setup.noiseMask ? withNoiseMask(blended, setup.noiseMask) : blended;
}

/** KSamplerX0Inpaint around a denoiser: x ← x·m + (latent + noise·σ)·(1 − m) before, D ← D·m + latent·(1 − m) after. */
function withNoiseMask(d: Denoiser, nm: NonNullable<DenoiserSetup['noiseMask']>): Denoiser {
  return async (xRaw, sigma) => {
    const x = new Float32Array(xRaw.length);
    for (let i = 0; i < x.length; i++) x[i] = xRaw[i] * nm.mask[i] + (nm.latent[i] + nm.noise[i] * sigma) * (1 - nm.mask[i]);
    const out = await d(x, sigma);
    for (let i = 0; i < out.length; i++) out[i] = out[i] * nm.mask[i] + nm.latent[i] * (1 - nm.mask[i]);
    return out;
  };
}
