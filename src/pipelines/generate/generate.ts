// txt2img, img2img and inpainting in one entry point — ComfyUI's graph
//   CheckpointLoaderSimple → [LoraLoader] → CLIPTextEncode ×2 → EmptyLatentImage | VAEEncode |
//   VAEEncodeForInpaint → [ControlNetApplyAdvanced ×k] → KSampler → VAEDecode → [ImageCompositeMasked]
// as thin orchestration: prompts → conditioning, image → latent, [T2I-Adapter images → features], the
// ComfyUI sampler over a denoiser that wraps UNet + CFG (+ ControlNet, + adapter features, + inpainting),
// latent → images.
import type { Image } from '../../imaging/image.ts';
import type { Mask } from '../../imaging/masks.ts';
import { growMaskForInpaint } from '../../imaging/masks.ts';
import type { Checkpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import { resolveLoraPath, type LoraSpec } from '../../models/checkpoint/loras.ts';
import type { LoraReport } from '../../weights/lora.ts';
import { comfySample, prepareNoise, COMFY_SAMPLERS, COMFY_SCHEDULERS } from '../../sampling/comfy/ksampler.ts';
import { createModelSamplingDiscrete } from '../../sampling/comfy/modelSamplingDiscrete.ts';
import { alignTokenLengths, encodeParsedPrompt, parsePrompt, promptLoras } from './conditioning.ts';
import { prepareControls, type ControlNetUse } from './controlNet.ts';
import { createDenoiser } from './denoiser.ts';
import { InitImageError, prepareInitImage, type InitRequest, type PreparedInit } from './initImage.ts';
import { adapterFeatures, validateAdapterUse, type T2IAdapterUse } from './t2iAdapter.ts';
import { compositionSteps, fullStepSchedule } from '../../sampling/stepCache.ts';
import type { CompileOptions } from '../../runtime/session.ts';
import { GENERATE_DEFAULTS } from './defaults.ts';
import { assertFiniteStage, withFiniteStage } from '../nonFiniteStage.ts';
import { assertGenerationFits } from '../memoryEstimate.ts';
import { bilinearResize, compositeMasked, imageToUnitTensor, vaeOutputToImages } from './pixels.ts';

export type InpaintMode = 'vae-encode-for-inpaint' | 'noise-mask';

export interface GenerateRequest {
  prompt: string;
  negative?: string;
  /** ComfyUI-compatible: torch.manual_seed(seed); torch.randn(latent shape). */
  seed: number | bigint;
  /** Default 20. */
  steps?: number;
  /** Default 8. */
  cfg?: number;
  /** Default dpmpp_2m. */
  sampler?: string;
  /** Default karras. */
  scheduler?: string;
  /** Output size for txt2img (default 512); with an init image, resizes it when both are given. */
  width?: number;
  height?: number;
  /** Candidates per call (one latent batch, one noise draw, as ComfyUI's batch_size). Default 1. */
  batch?: number;
  /** Default 1; below 1 keeps that much of the init image (img2img). */
  denoise?: number;
  /** 1 = last CLIP layer (default). */
  clipSkip?: number;
  /** img2img / inpainting source image. */
  init?: Image;
  /** Inpainting mask (1 = repaint), any size (resized to the image bilinearly). Needs `init`. */
  mask?: Mask;
  /** VAEEncodeForInpaint's grow_mask_by (default 6; the comic study used 32). */
  growMaskBy?: number;
  /**
   * `vae-encode-for-inpaint` (default at denoise 1): the masked area is filled with grey before
   * encoding; `noise-mask` (default below 1): the original is encoded and only the masked area is denoised.
   */
  inpaintMode?: InpaintMode;
  controlNets?: readonly ControlNetUse[];
  /** T2I-Adapters (diffusers semantics: features × scale, summed over adapters, at every step). */
  adapters?: readonly T2IAdapterUse[];
  /** LoRAs besides the `<lora:name:w>` tags of the prompts. */
  loras?: readonly LoraSpec[];
  /** Folders where `<lora:name>` tags are looked up. */
  lorasDirs?: readonly string[];
  /** `[x]` as ×1/1.1 (default true). */
  squareBrackets?: boolean;
  /**
   * Step caching: the full UNet every N sampler steps (and the first and last), only its shallow blocks
   * in between (sampling/stepCache.ts). Lossy, opt-in; absent or 1: every step full.
   */
  cacheSteps?: number;
}

export type GenerateStage = 'text' | 'encode' | 'sample' | 'decode';

export interface GenerateProgress {
  stage: GenerateStage;
  /** Sampling step (1-based) and total; 0/1 and 1/1 for the other stages. */
  step: number;
  total: number;
}

export interface GenerateOptions {
  onProgress?: (p: GenerateProgress) => void;
  /** Aborting stops at the next step (or stage) with the signal's reason. */
  signal?: AbortSignal;
  /** Compile options for the models a request opens itself (T2I-Adapters); default: the compile cache, CPU. */
  compile?: CompileOptions;
}

export interface GenerateTimings {
  textMs: number;
  encodeMs: number;
  /** Loading and running the T2I-Adapters (once per generation). */
  adapterMs: number;
  /** Sampling wall time (UNet + ControlNet calls + sampler arithmetic). */
  sampleMs: number;
  /** UNet (+ ControlNet) calls only. */
  unetMs: number;
  unetCalls: number;
  /** Of those, shallow (step-caching) calls (absent: none). */
  shallowUnetCalls?: number;
  decodeMs: number;
  totalMs: number;
}

export interface GenerateResult {
  images: Image[];
  /** Node-space output latent [N, C, h, w] (what KSampler returns). */
  latent: Float32Array;
  latentShape: [number, number, number, number];
  /** The settings actually used (defaults filled in), for metadata. */
  settings: ResolvedSettings;
  loras: { applied: LoraSpec[]; unet?: LoraReport; text?: LoraReport };
  timings: GenerateTimings;
}

export interface ResolvedSettings {
  prompt: string;
  negative: string;
  seed: string;
  steps: number;
  cfg: number;
  sampler: string;
  scheduler: string;
  width: number;
  height: number;
  batch: number;
  denoise: number;
  clipSkip: number;
  growMaskBy: number;
  inpaintMode?: InpaintMode;
}

export class GenerateError extends Error {
  override name = 'GenerateError';
}

function intIn(name: string, v: number, lo: number, hi: number): number {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new GenerateError(`${name} must be an integer in [${lo}, ${hi}], got ${v}`);
  return v;
}

function checkSeed(seed: number | bigint): bigint {
  const s = typeof seed === 'bigint' ? seed : Number.isSafeInteger(seed) ? BigInt(seed) : NaN;
  if (typeof s !== 'bigint' || s < 0n || s >= 2n ** 64n) throw new GenerateError(`seed must be an integer in [0, 2^64), got ${seed}`);
  return s;
}

/** Fills defaults and validates everything that does not need the models. */
export function resolveSettings(req: GenerateRequest): ResolvedSettings {
  const sampler = req.sampler ?? GENERATE_DEFAULTS.sampler;
  const scheduler = req.scheduler ?? GENERATE_DEFAULTS.scheduler;
  if (!(COMFY_SAMPLERS as readonly string[]).includes(sampler)) throw new GenerateError(`unknown sampler "${sampler}" (one of ${COMFY_SAMPLERS.join(', ')})`);
  if (!(COMFY_SCHEDULERS as readonly string[]).includes(scheduler)) throw new GenerateError(`unknown scheduler "${scheduler}" (one of ${COMFY_SCHEDULERS.join(', ')})`);
  const cfg = req.cfg ?? GENERATE_DEFAULTS.cfg;
  if (!(Number.isFinite(cfg) && cfg >= 0 && cfg <= 100)) throw new GenerateError(`cfg must be in [0, 100], got ${cfg}`);
  const denoise = req.denoise ?? GENERATE_DEFAULTS.denoise;
  if (!(denoise >= 0 && denoise <= 1)) throw new GenerateError(`denoise must be in [0, 1], got ${denoise}`);
  if (req.mask && !req.init) throw new GenerateError('a mask needs an init image to inpaint');
  req.adapters?.forEach(validateAdapterUse);
  const width = req.width ?? req.init?.width ?? GENERATE_DEFAULTS.width;
  const height = req.height ?? req.init?.height ?? GENERATE_DEFAULTS.height;
  const s: ResolvedSettings = {
    prompt: req.prompt ?? '',
    negative: req.negative ?? '',
    seed: checkSeed(req.seed).toString(),
    steps: intIn('steps', req.steps ?? GENERATE_DEFAULTS.steps, 1, 10000),
    cfg,
    sampler,
    scheduler,
    width: intIn('width', width, 8, 16384),
    height: intIn('height', height, 8, 16384),
    batch: intIn('batch', req.batch ?? GENERATE_DEFAULTS.batch, 1, 64),
    denoise,
    clipSkip: req.clipSkip ?? GENERATE_DEFAULTS.clipSkip,
    growMaskBy: intIn('grow_mask_by', req.growMaskBy ?? GENERATE_DEFAULTS.growMaskBy, 0, 64),
  };
  if (req.mask) s.inpaintMode = req.inpaintMode ?? (denoise >= 1 ? 'vae-encode-for-inpaint' : 'noise-mask');
  return s;
}

/** Runs one generation. LoRA views created for the request are released before returning. */
/** prepareInitImage with its refusals as GenerateErrors. */
export function prepareInit(req: InitRequest, width: number, height: number, factor: number): PreparedInit {
  try {
    return prepareInitImage(req, width, height, factor);
  } catch (e) {
    throw e instanceof InitImageError ? new GenerateError(e.message) : e;
  }
}

export async function generate(ckpt: Checkpoint, req: GenerateRequest, opts: GenerateOptions = {}): Promise<GenerateResult> {
  const tStart = performance.now();
  const { signal, onProgress } = opts;
  const s = resolveSettings(req);
  const f = ckpt.vaeScaleFactor;
  const n = s.batch;

  // Prompts and LoRAs (tags are removed from the text and merged into a checkpoint view).
  const pos = parsePrompt(s.prompt, { squareBrackets: req.squareBrackets });
  const neg = parsePrompt(s.negative, { squareBrackets: req.squareBrackets });
  const tagLoras = promptLoras(pos, neg).map((t): LoraSpec => ({ path: resolveLoraPath(t.name, req.lorasDirs ?? []), strengthModel: t.weight, strengthClip: t.textWeight }));
  const loras = [...(req.loras ?? []), ...tagLoras];
  // Before any work: the checkpoint and every model the request adds must fit.
  assertGenerationFits(ckpt, s, undefined, { controls: req.controlNets, adapters: req.adapters, loras: [...ckpt.loras, ...loras] });
  signal?.throwIfAborted();
  const model = loras.length ? ckpt.withLoras(loras) : ckpt;
  try {
    // Text.
    onProgress?.({ stage: 'text', step: 0, total: 1 });
    let t0 = performance.now();
    const encOpts = { clipSkip: s.clipSkip, signal };
    const [positive, negative] = alignTokenLengths([await encodeParsedPrompt(model, pos, encOpts), await encodeParsedPrompt(model, neg, encOpts)]);
    const textMs = performance.now() - t0;
    onProgress?.({ stage: 'text', step: 1, total: 1 });
    signal?.throwIfAborted();

    // Latent image.
    t0 = performance.now();
    const { width, height, init, pixelMask } = prepareInit(req, s.width, s.height, f);
    const h = height / f;
    const w = width / f;
    const m = ckpt.latentMultiple;
    if (h < m || w < m) throw new GenerateError(`image ${width}×${height} is too small: the latent must be at least ${m}×${m}`);
    const c = ckpt.vaeConfig.latent_channels;
    const per = c * h * w;
    const latentShape: [number, number, number, number] = [n, c, h, w];
    if (ckpt.isInpaint && !pixelMask) throw new GenerateError(`${ckpt.path} is an inpainting checkpoint: give an init image and a mask`);

    let latentImage: Float32Array | null = null;
    let noiseMaskLatent: Float32Array | undefined;
    let inpaintConcat: { mask: Float32Array; maskedLatent: Float32Array } | undefined;
    if (init) {
      onProgress?.({ stage: 'encode', step: 0, total: 1 });
      const vae = await model.useVae();
      const encode = async (pixels: Float32Array): Promise<Float32Array> => {
        const x = pixels.map((v) => v * 2 - 1);
        const one = (await vae.encode({ shape: [1, 3, height, width], data: x })).mean.data;
        assertFiniteStage('VAE encode', one, 'encoded init image', 'vae', () => model.weightFiles('vae'));
        const out = new Float32Array(n * per);
        for (let b = 0; b < n; b++) out.set(one, b * per);
        return out;
      };
      const pixels = imageToUnitTensor(init);
      if (pixelMask) {
        const grown = growMaskForInpaint(pixelMask, s.growMaskBy);
        const grey = greyOutMasked(pixels, pixelMask);
        const greyLatent = s.inpaintMode === 'vae-encode-for-inpaint' || ckpt.isInpaint ? await encode(grey) : undefined;
        latentImage = s.inpaintMode === 'vae-encode-for-inpaint' ? greyLatent! : await encode(pixels);
        // prepare_mask: bilinear to the latent size, repeated over channels and batch.
        const small = bilinearResize(grown.data, width, height, w, h);
        noiseMaskLatent = new Float32Array(n * per);
        for (let b = 0; b < n; b++) for (let k = 0; k < c; k++) noiseMaskLatent.set(small, (b * c + k) * h * w);
        if (ckpt.isInpaint) {
          const scale = Math.fround(ckpt.latentScale);
          inpaintConcat = { mask: small.map(roundHalfEvenUnit), maskedLatent: greyLatent!.map((v) => v * scale) };
        }
      } else {
        latentImage = await encode(pixels);
      }
      onProgress?.({ stage: 'encode', step: 1, total: 1 });
    }
    const encodeMs = init ? performance.now() - t0 : 0;
    signal?.throwIfAborted();

    // T2I-Adapters: run once, before the UNet is made resident.
    t0 = performance.now();
    const adapter = await adapterFeatures(req.adapters ?? [], ckpt.unetConfig, w, h, opts.compile, signal);
    const adapterMs = performance.now() - t0;
    signal?.throwIfAborted();

    // Sampling.
    t0 = performance.now();
    const unet = await model.useUNet();
    const modelSampling = createModelSamplingDiscrete({ predictionType: ckpt.prediction });
    const controls = prepareControls(req.controlNets ?? [], modelSampling, w, h, s.cfg !== 1 ? 2 * n : n);
    const noise = prepareNoise(latentShape, BigInt(s.seed));
    const timing = { unetMs: 0, calls: 0 };
    const scale = Math.fround(ckpt.latentScale);
    let step = 0;
    const cacheStats = { full: 0, shallow: 0 };
    const stepCache = (req.cacheSteps ?? 1) > 1 ? { schedule: fullStepSchedule(s.steps, req.cacheSteps!, compositionSteps(s.steps)), stepOf: () => step, stats: cacheStats } : undefined;
    const denoiser = createDenoiser({
      unet, modelSampling, batch: n, channels: c, height: h, width: w, stepCache,
      positive, negative, cfg: s.cfg, controls, adapterFeatures: adapter, timing, inpaintConcat,
      noiseMask: noiseMaskLatent && latentImage ? { mask: noiseMaskLatent, latent: latentImage.map((v) => v * scale), noise } : undefined,
    });
    const result = await withFiniteStage('sampling', 'unet', () => model.weightFiles('unet'), () => comfySample({
      sampler: s.sampler, scheduler: s.scheduler, steps: s.steps, denoise: s.denoise, seed: BigInt(s.seed),
      model: denoiser, latentShape, latentImage, noise, signal,
      modelSampling, latentScaleFactor: ckpt.latentScale,
      callback: (i, _d, _x, total) => {
        step = i + 1;
        onProgress?.({ stage: 'sample', step: i + 1, total });
      },
    }));
    const sampleMs = performance.now() - t0;
    signal?.throwIfAborted();

    // Decode (+ paste the generated pixels into the original through the mask).
    t0 = performance.now();
    onProgress?.({ stage: 'decode', step: 0, total: 1 });
    const vae = await model.useVae();
    const decoded = await vae.decode({ shape: latentShape, data: result.latent });
    assertFiniteStage('VAE decode', decoded.data, 'decoded image', 'vae', () => model.weightFiles('vae'));
    let images = vaeOutputToImages(decoded.data, n, width, height);
    if (pixelMask && init) images = images.map((img) => compositeMasked(init!, img, pixelMask!));
    onProgress?.({ stage: 'decode', step: 1, total: 1 });
    const decodeMs = performance.now() - t0;

    const reports = model.loraReport();
    return {
      images, latent: result.latent, latentShape,
      settings: { ...s, width, height },
      loras: { applied: loras, ...reports },
      timings: { textMs, encodeMs, adapterMs, sampleMs, unetMs: timing.unetMs, unetCalls: timing.calls, shallowUnetCalls: cacheStats.shallow, decodeMs, totalMs: performance.now() - tStart },
    };
  } finally {
    if (model !== ckpt) await model.release();
  }
}

/** VAEEncodeForInpaint: pixels under round(mask) = 1 become 0.5 grey. */
function greyOutMasked(pixels: Float32Array, mask: Mask): Float32Array {
  const n = mask.width * mask.height;
  const out = pixels.slice();
  for (let i = 0; i < n; i++) {
    const keep = 1 - roundHalfEvenUnit(mask.data[i]);
    for (let ch = 0; ch < 3; ch++) out[ch * n + i] = Math.fround(Math.fround(out[ch * n + i] - 0.5) * keep + 0.5);
  }
  return out;
}

/** torch.round on [0, 1]: half to even, so 0.5 → 0. */
function roundHalfEvenUnit(v: number): number {
  return v > 0.5 ? 1 : 0;
}
