// KSampler as a node-sized step: a model, positive and negative CONDITIONING (text + the ControlNets and
// T2I-Adapters attached to it) and a LATENT in, the denoised LATENT out. The same pieces generate() uses
// (denoiser, ControlNet preparation, adapter features, ComfyUI's sampler), so a workflow and generate()
// sample alike.
import type { Checkpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import type { SdxlCheckpoint } from '../../models/checkpoint/sdxlCheckpoint.ts';
import type { PredictionType } from '../../models/predictionType.ts';
import { comfySample, prepareNoise, COMFY_SAMPLERS, COMFY_SCHEDULERS } from '../../sampling/comfy/ksampler.ts';
import { createModelSamplingDiscrete } from '../../sampling/comfy/modelSamplingDiscrete.ts';
import { compositionSteps, fullStepSchedule } from '../../sampling/stepCache.ts';
import { assertGenerationFits, availableMemory, type AddedModelUses } from '../memoryEstimate.ts';
import { assertSdxlFits } from './sdxlMemory.ts';
import { withFiniteStage } from '../nonFiniteStage.ts';
import type { CompileOptions } from '../../runtime/session.ts';
import { alignTokenLengths, type TextConditioning } from './conditioning.ts';
import { prepareControls, type ControlNetUse } from './controlNet.ts';
import { createDenoiser, type DenoiserSetup } from './denoiser.ts';
import { resizeEmptyLatent, type Latent } from './latent.ts';
import { bilinearResize } from './pixels.ts';
import { adapterFeatures, type T2IAdapterUse } from './t2iAdapter.ts';
import { sdxlTimeIds, type SdxlMicroConditioning } from './sdxlConditioning.ts';
import { condBatchDenoiser, type CondRun } from './condBatch.ts';
import type { LatentArea } from '../../sampling/comfy/condAreas.ts';
import { adapterRangeDenoiser, hasAdapterRanges, rangedAdapterFeatures, type RangedAdapterUse } from './adapterRanges.ts';

/** A checkpoint KSampler can sample with: SD1/SD2 or SDXL (family 'sdxl'). */
export type SamplingCheckpoint = Checkpoint | SdxlCheckpoint;

/** ComfyUI's CONDITIONING for one prompt: the text embedding and what ControlNetApply attached to it. */
export interface Conditioning {
  text: TextConditioning;
  controls: readonly ControlNetUse[];
  /** T2I-Adapters, with an optional step range (ControlNetApplyAdvanced's start / end percent). */
  adapters: readonly RangedAdapterUse[];
  /** ConditioningSetArea: where this prompt applies, in latent units (pixels // 8, as ComfyUI); default everywhere. */
  area?: LatentArea;
  /** ConditioningSetArea's strength: this prompt's weight in the blend of its side (default 1). */
  strength?: number;
  /** ConditioningCombine: more prompts evaluated alongside this one; their predictions are blended. */
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

/** The models a sampling brings beside the checkpoint, for the memory check: every prompt's ControlNets and adapters, the LoRAs. */
function addedUses(posParts: readonly Conditioning[], negParts: readonly Conditioning[], loras: AddedModelUses['loras']): AddedModelUses {
  const parts = [...posParts, ...negParts];
  return { controls: parts.flatMap((p) => p.controls), adapters: parts.flatMap((p) => p.adapters), loras };
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
  const withArea = [...posParts, ...negParts].some((p) => p.area !== undefined || p.strength !== undefined);
  const usesCondBatch = withArea || posParts.length + negParts.length > 2;
  if (model.family === 'sdxl') {
    if (withArea) throw new KSampleError('conditioning areas (ConditioningSetArea) are not supported with SDXL checkpoints yet');
    if (posParts.length + negParts.length > 2) throw new KSampleError('combined conditionings (ConditioningCombine) are not supported with SDXL checkpoints yet');
    // Refused in milliseconds when it cannot fit even one model at a time, before anything is compiled or sampled.
    try {
      assertSdxlFits(model, { width: w * model.vaeScaleFactor, height: h * model.vaeScaleFactor, batch: n, cfg: s.cfg }, availableMemory(), addedUses(posParts, negParts, model.loras));
    } catch (e) {
      throw new KSampleError((e as Error).message);
    }
  } else {
    if (positive.sdxl || negative.sdxl) throw new KSampleError(`${model.path} is not an SDXL checkpoint: SDXL conditioning (CLIPTextEncodeSDXL) needs an SDXL model`);
    // Refused in milliseconds when it cannot fit, before anything is compiled or sampled.
    assertGenerationFits(model, { width: w * model.vaeScaleFactor, height: h * model.vaeScaleFactor, batch: n, cfg: s.cfg, tokens: pos.tokens }, availableMemory(), addedUses(posParts, negParts, model.loras));
  }
  const scale = Math.fround(model.latentScale);
  let inpaintConcat: { mask: Float32Array; maskedLatent: Float32Array } | undefined;
  if (model.isInpaint) {
    const concat = latent.inpaint ?? (latent.maskedForInpaint && latent.noiseMask ? { image: latent.samples, mask: latent.noiseMask } : undefined);
    if (!concat) throw new KSampleError(`${model.path} is an inpainting checkpoint: encode the image with VAEEncodeForInpaint or InpaintModelConditioning (an image and a mask)`);
    const image = concat.image;
    if (image.length !== latent.samples.length) throw new KSampleError(`the inpainting image latent has ${image.length} values, the latent ${latent.samples.length}`);
    const mk = concat.mask;
    const small = mk.shape[1] === h && mk.shape[2] === w ? mk.data.subarray(0, h * w) : bilinearResize(mk.data.subarray(0, mk.shape[1] * mk.shape[2]), mk.shape[2], mk.shape[1], w, h);
    inpaintConcat = { mask: small.map((v) => (v > 0.5 ? 1 : 0)), maskedLatent: image.map((v) => v * scale) };
  }
  signal?.throwIfAborted();
  const modelSampling = createModelSamplingDiscrete({ predictionType: s.prediction ?? model.prediction });
  // Adapters with a step range (generateSdxl's ComfyUI semantics) are summed per step; otherwise once.
  const ranged = hasAdapterRanges(positive.adapters) ? await rangedAdapterFeatures(positive.adapters, model.unetConfig, modelSampling, w, h, opts.compile, signal) : undefined;
  if (ranged?.length && usesCondBatch) throw new KSampleError('T2I-Adapter step ranges are not supported with combined conditionings');
  const adapter = ranged || usesCondBatch ? undefined : await adapterFeatures(positive.adapters, model.unetConfig, w, h, opts.compile, signal);
  signal?.throwIfAborted();
  const unet = await model.useUNet();
  // A ControlNet attached to the positive prompt only (ControlNetApply) leaves the unconditional half alone.
  const negativeOnly = negative.controls.filter((u) => !positive.controls.includes(u));
  if (negativeOnly.length) throw new KSampleError('a ControlNet applied to the negative prompt only is not supported (use Apply ControlNet (Advanced) on both prompts)');
  const positiveControls = positive.controls.map((u) => (negative.controls.includes(u) ? u : { ...u, uncond: false }));
  const controls = prepareControls(positiveControls, modelSampling, w, h, s.cfg !== 1 ? 2 * n : n, model.unetConfig);
  const noise = s.addNoise === false ? new Float32Array(n * c * h * w) : prepareNoise(shape, BigInt(s.seed));
  const noiseMask = latent.noiseMask ? latentNoiseMask(latent.noiseMask, shape) : undefined;
  let step = 0;
  const cacheSteps = opts.cacheSteps ?? 1;
  if (cacheSteps > 1 && (ranged?.length || posParts.length + negParts.length > 2)) throw new KSampleError('step caching does not combine with ranged T2I-Adapters or combined prompts');
  const setup: DenoiserSetup = {
    timing: opts.timing, unet,
    stepCache: cacheSteps > 1 ? { schedule: fullStepSchedule(s.steps, cacheSteps, compositionSteps(s.steps)), stepOf: () => step } : undefined, modelSampling, batch: n, channels: c, height: h, width: w,
    positive: pos, negative: neg, cfg: s.cfg, controls, adapterFeatures: adapter, inpaintConcat,
    added: xl ? sdxlAdded(xl, positive, negative, w * xl.vaeScaleFactor, h * xl.vaeScaleFactor) : undefined,
    noiseMask: noiseMask ? { mask: noiseMask, latent: latent.samples.map((v) => v * scale), noise } : undefined,
  };
  // Several prompts, areas or strengths: each prompt on its own (its area's crop), blended per side, then CFG.
  // ControlNets and T2I-Adapters belong to each prompt, fitted to its area.
  const runs = (parts: Conditioning[], offset: number): CondRun[] => parts.map((p, i) => ({ text: aligned[offset + i], area: p.area, strength: p.strength, controls: p.controls, adapters: p.adapters }));
  const fit = {
    controls: (uses: readonly ControlNetUse[], aw: number, ah: number) => prepareControls(uses, modelSampling, aw, ah, n),
    adapters: (uses: readonly T2IAdapterUse[], aw: number, ah: number) => adapterFeatures(uses, model.unetConfig, aw, ah, opts.compile, signal),
  };
  const denoiser = usesCondBatch
    ? await condBatchDenoiser(setup, runs(posParts, 0), runs(negParts, posParts.length), fit, model.latentMultiple)
    : ranged?.length ? adapterRangeDenoiser(ranged, (f) => createDenoiser({ ...setup, adapterFeatures: f })) : createDenoiser(setup);
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
