// KSampler as a node-sized step: a model, positive and negative CONDITIONING (text + the ControlNets and
// T2I-Adapters attached to it) and a LATENT in, the denoised LATENT out. The same pieces generate() uses
// (denoiser, ControlNet preparation, adapter features, ComfyUI's sampler), so a workflow and generate()
// sample alike.
import type { Checkpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import type { SdxlCheckpoint } from '../../models/checkpoint/sdxlCheckpoint.ts';
import type { PredictionType } from '../../models/predictionType.ts';
import { comfySample, prepareNoise, COMFY_SAMPLERS, COMFY_SCHEDULERS } from '../../sampling/comfy/ksampler.ts';
import { createModelSamplingDiscrete } from '../../sampling/comfy/modelSamplingDiscrete.ts';
import { fullStepSchedule } from '../../sampling/stepCache.ts';
import { assertGenerationFits } from '../memoryEstimate.ts';
import { withFiniteStage } from '../nonFiniteStage.ts';
import type { CompileOptions } from '../../runtime/session.ts';
import { alignTokenLengths, type TextConditioning } from './conditioning.ts';
import { prepareControls, type ControlNetUse } from './controlNet.ts';
import { createDenoiser, type DenoiserSetup } from './denoiser.ts';
import { resizeEmptyLatent, type Latent } from './latent.ts';
import { bilinearResize } from './pixels.ts';
import { adapterFeatures, type T2IAdapterUse } from './t2iAdapter.ts';
import { sdxlTimeIds, type SdxlMicroConditioning } from './sdxlConditioning.ts';
import { adapterRangeDenoiser, hasAdapterRanges, rangedAdapterFeatures } from './adapterRanges.ts';

/** A checkpoint KSampler can sample with: SD1/SD2 or SDXL (family 'sdxl'). */
export type SamplingCheckpoint = Checkpoint | SdxlCheckpoint;

/** ComfyUI's CONDITIONING for one prompt: the text embedding and what ControlNetApply attached to it. */
export interface Conditioning {
  text: TextConditioning;
  controls: readonly ControlNetUse[];
  adapters: readonly T2IAdapterUse[];
  /** ConditioningCombine: more prompts evaluated alongside this one; their predictions are averaged. */
  others?: readonly Conditioning[];
  /** SDXL: the bigG pooled embedding and the micro-conditioning (unset sizes = the latent's image size,
   *  filled at sampling as ComfyUI's SDXL.encode_adm does). */
  sdxl?: { pooled: Float32Array; micro?: SdxlMicroConditioning };
}

/** Every prompt of a (combined) conditioning, each on its own. */
export function conditioningParts(c: Conditioning): Conditioning[] {
  const { others, ...own } = c;
  return [own, ...(others ?? []).flatMap(conditioningParts)];
}

/** ConditioningCombine. */
export function combineConditioning(a: Conditioning, b: Conditioning): Conditioning {
  const [first, ...rest] = [...conditioningParts(a), ...conditioningParts(b)];
  return { ...first, others: rest };
}

export interface KSampleSettings {
  seed: number | bigint;
  steps: number;
  cfg: number;
  sampler: string;
  scheduler: string;
  denoise: number;
  /** ModelSamplingDiscrete override (eps / v_prediction); default: the checkpoint's. */
  prediction?: PredictionType;
  /** KSamplerAdvanced: add_noise disable (zero noise), the step window and leftover noise. */
  addNoise?: boolean;
  startStep?: number;
  lastStep?: number;
  forceFullDenoise?: boolean;
}

export interface KSampleOptions {
  signal?: AbortSignal;
  /** After each step: 1-based step, total, and the step's denoised latent (model space) for previews. */
  onStep?: (step: number, total: number, denoised: Float32Array, shape: Latent['shape']) => void;
  compile?: CompileOptions;
  /** Accumulates UNet wall time and calls (benchmarks, generate timings). */
  timing?: { unetMs: number; calls: number };
  /** Step caching: full UNet every N steps (and the first and last); 1 or absent: off. Lossy, opt-in. */
  cacheSteps?: number;
}

export class KSampleError extends Error {
  override name = 'KSampleError';
}

/** KSamplerX0Inpaint's mask: [B, H, W] → bilinear to the latent size, over channels and batch. */
function latentNoiseMask(mask: NonNullable<Latent['noiseMask']>, shape: Latent['shape']): Float32Array {
  const [n, c, h, w] = shape;
  const [mb, mh, mw] = mask.shape;
  const out = new Float32Array(n * c * h * w);
  for (let b = 0; b < n; b++) {
    const k = Math.min(b, mb - 1);
    const plane = mask.data.subarray(k * mh * mw, (k + 1) * mh * mw);
    const small = mh === h && mw === w ? plane : bilinearResize(plane, mw, mh, w, h);
    for (let ch = 0; ch < c; ch++) out.set(small, (b * c + ch) * h * w);
  }
  return out;
}

/** SDXL's UNet inputs text_embeds / time_ids for each side (the negative side gets the refiner's 2.5 score default). */
function sdxlAdded(model: SdxlCheckpoint, positive: Conditioning, negative: Conditioning, width: number, height: number): DenoiserSetup['added'] {
  if (!positive.sdxl || !negative.sdxl) throw new KSampleError(`${model.path} is an SDXL checkpoint: encode both prompts with its CLIP (CLIPTextEncode / CLIPTextEncodeSDXL)`);
  return {
    positive: { textEmbeds: positive.sdxl.pooled, timeIds: sdxlTimeIds(model, width, height, positive.sdxl.micro) },
    negative: { textEmbeds: negative.sdxl.pooled, timeIds: sdxlTimeIds(model, width, height, negative.sdxl.micro, true) },
  };
}

export async function ksample(model: SamplingCheckpoint, positive: Conditioning, negative: Conditioning, latentIn: Latent, s: KSampleSettings, opts: KSampleOptions = {}): Promise<Latent> {
  const { signal } = opts;
  const latent = resizeEmptyLatent(latentIn, model.vaeConfig.latent_channels, model.vaeScaleFactor);
  if (!(COMFY_SAMPLERS as readonly string[]).includes(s.sampler)) throw new KSampleError(`unknown sampler "${s.sampler}" (one of ${COMFY_SAMPLERS.join(', ')})`);
  if (!(COMFY_SCHEDULERS as readonly string[]).includes(s.scheduler)) throw new KSampleError(`unknown scheduler "${s.scheduler}" (one of ${COMFY_SCHEDULERS.join(', ')})`);
  const shape = latent.shape;
  const [n, c, h, w] = shape;
  if (c !== model.vaeConfig.latent_channels) throw new KSampleError(`the latent has ${c} channels, the model ${model.vaeConfig.latent_channels}`);
  const m = model.latentMultiple;
  // As generate(): any size from one UNet downsampling unit up (the UNet's upsampling meets odd skip sizes).
  if (h < m || w < m) throw new KSampleError(`latent ${w}×${h} is too small: at least ${m}×${m} (image ${m * model.vaeScaleFactor}×${m * model.vaeScaleFactor})`);
  const posParts = conditioningParts(positive);
  const negParts = conditioningParts(negative);
  const aligned = alignTokenLengths([...posParts, ...negParts].map((p) => p.text));
  const [pos, neg] = [aligned[0], aligned[posParts.length]];
  const xl = model.family === 'sdxl' ? model : undefined;
  if (model.family === 'sdxl') {
    if (posParts.length + negParts.length > 2) throw new KSampleError('combined conditionings (ConditioningCombine) are not supported with SDXL checkpoints yet');
    if (positive.controls.length || negative.controls.length) throw new KSampleError('ControlNets are not supported with SDXL checkpoints yet');
    if (model.isInpaint) throw new KSampleError(`${model.path}: SDXL inpainting checkpoints (9-channel UNet) are not supported yet; use a mask with a normal SDXL checkpoint`);
  } else {
    if (positive.sdxl || negative.sdxl) throw new KSampleError(`${model.path} is not an SDXL checkpoint: SDXL conditioning (CLIPTextEncodeSDXL) needs an SDXL model`);
    // Refused in milliseconds when it cannot fit, before anything is compiled or sampled.
    assertGenerationFits(model, { width: w * model.vaeScaleFactor, height: h * model.vaeScaleFactor, batch: n, cfg: s.cfg, tokens: pos.tokens });
  }
  const scale = Math.fround(model.latentScale);
  let inpaintConcat: { mask: Float32Array; maskedLatent: Float32Array } | undefined;
  if (model.isInpaint) {
    if (!latent.noiseMask || !latent.maskedForInpaint) throw new KSampleError(`${model.path} is an inpainting checkpoint: encode the image with VAEEncodeForInpaint (an image and a mask)`);
    const mk = latent.noiseMask;
    const small = mk.shape[1] === h && mk.shape[2] === w ? mk.data.subarray(0, h * w) : bilinearResize(mk.data.subarray(0, mk.shape[1] * mk.shape[2]), mk.shape[2], mk.shape[1], w, h);
    inpaintConcat = { mask: small.map((v) => (v > 0.5 ? 1 : 0)), maskedLatent: latent.samples.map((v) => v * scale) };
  }
  signal?.throwIfAborted();
  const modelSampling = createModelSamplingDiscrete({ predictionType: s.prediction ?? model.prediction });
  // Adapters with a step range (generateSdxl's ComfyUI semantics) are summed per step; otherwise once.
  const ranged = hasAdapterRanges(positive.adapters) ? await rangedAdapterFeatures(positive.adapters, model.unetConfig, modelSampling, w, h, opts.compile, signal) : undefined;
  if (ranged?.length && posParts.length + negParts.length > 2) throw new KSampleError('T2I-Adapter step ranges are not supported with combined conditionings');
  const adapter = ranged ? undefined : await adapterFeatures(positive.adapters, model.unetConfig, w, h, opts.compile, signal);
  signal?.throwIfAborted();
  const unet = await model.useUNet();
  const controls = prepareControls(positive.controls, modelSampling, w, h, s.cfg !== 1 ? 2 * n : n);
  const noise = s.addNoise === false ? new Float32Array(n * c * h * w) : prepareNoise(shape, BigInt(s.seed));
  const noiseMask = latent.noiseMask ? latentNoiseMask(latent.noiseMask, shape) : undefined;
  let step = 0;
  const cacheSteps = opts.cacheSteps ?? 1;
  if (cacheSteps > 1 && (ranged?.length || posParts.length + negParts.length > 2)) throw new KSampleError('step caching does not combine with ranged T2I-Adapters or combined prompts');
  const setup: DenoiserSetup = {
    timing: opts.timing, unet,
    stepCache: cacheSteps > 1 ? { schedule: fullStepSchedule(s.steps, cacheSteps), stepOf: () => step } : undefined, modelSampling, batch: n, channels: c, height: h, width: w,
    positive: pos, negative: neg, cfg: s.cfg, controls, adapterFeatures: adapter, inpaintConcat,
    added: xl ? sdxlAdded(xl, positive, negative, w * xl.vaeScaleFactor, h * xl.vaeScaleFactor) : undefined,
    noiseMask: noiseMask ? { mask: noiseMask, latent: latent.samples.map((v) => v * scale), noise } : undefined,
  };
  let denoiser = ranged?.length ? adapterRangeDenoiser(ranged, (f) => createDenoiser({ ...setup, adapterFeatures: f })) : createDenoiser(setup);
  if (posParts.length + negParts.length > 2) {
    // Combined prompts: each predicted on its own (cfg 1 = that prompt only), averaged per side, then CFG
    // as ComfyUI's calc_cond_batch + cfg_function do for full-image conditionings.
    const single = (text: TextConditioning, ctrl: typeof controls) => createDenoiser({ ...setup, positive: text, negative: text, cfg: 1, controls: ctrl });
    const singleControls = prepareControls(positive.controls, modelSampling, w, h, n);
    const conds = posParts.map((_, i) => single(aligned[i], singleControls));
    const unconds = negParts.map((_, j) => single(aligned[posParts.length + j], singleControls));
    const mean = async (ds: typeof conds, x: Float32Array, sigma: number) => {
      const acc = new Float32Array(x.length);
      for (const d of ds) {
        const y = await d(x, sigma);
        for (let i = 0; i < acc.length; i++) acc[i] += y[i] / ds.length;
      }
      return acc;
    };
    const g = Math.fround(s.cfg);
    denoiser = async (x, sigma) => {
      const cond = await mean(conds, x, sigma);
      if (Math.abs(s.cfg - 1) <= 1e-9) return cond;
      const uncond = await mean(unconds, x, sigma);
      return cond.map((v, i) => uncond[i] + (v - uncond[i]) * g);
    };
  }
  const result = await withFiniteStage('sampling', 'unet', () => (xl ? [] : (model as Checkpoint).weightFiles('unet')), () => comfySample({
    sampler: s.sampler, scheduler: s.scheduler, steps: s.steps, denoise: s.denoise, seed: BigInt(s.seed),
    model: denoiser, latentShape: shape, latentImage: latent.samples, noise, signal,
    modelSampling, latentScaleFactor: model.latentScale,
    startStep: s.startStep, lastStep: s.lastStep, forceFullDenoise: s.forceFullDenoise,
    callback: (i, denoised, _x, total) => {
      step = i + 1;
      opts.onStep?.(i + 1, total, denoised, shape);
    },
  }));
  // KSampler returns a copy of its input LATENT with new samples (the noise mask stays).
  return { ...latent, samples: result.latent };
}

/** ComfyUI's Latent2RGB preview factors for SD1.x latents (4 channels → RGB, roughly in [-1, 1]). */
const SD1_LATENT_RGB = [
  [0.3512, 0.2297, 0.3227],
  [0.325, 0.4974, 0.235],
  [-0.2829, 0.1762, 0.2721],
  [-0.212, -0.2616, -0.7177],
];

/** A quick RGB preview of the first batch entry of a model-space latent: [h·w·3] bytes. */
export function latentPreviewRgb(latent: Float32Array, shape: Latent['shape']): Uint8Array {
  const [, c, h, w] = shape;
  const out = new Uint8Array(h * w * 3);
  if (c !== 4) return out;
  for (let i = 0; i < h * w; i++) {
    for (let k = 0; k < 3; k++) {
      let v = 0;
      for (let ch = 0; ch < 4; ch++) v += latent[ch * h * w + i] * SD1_LATENT_RGB[ch][k];
      out[i * 3 + k] = Math.max(0, Math.min(255, Math.round(((v + 1) / 2) * 255)));
    }
  }
  return out;
}
