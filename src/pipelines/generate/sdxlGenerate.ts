// SDXL txt2img / img2img / inpainting — ComfyUI's graph
//   CheckpointLoaderSimple → [LoraLoader] → CLIPTextEncodeSDXL (or CLIPTextEncode, or …Refiner) ×2 →
//   EmptyLatentImage | VAEEncode | VAEEncodeForInpaint | SetLatentNoiseMask → KSampler → VAEDecode
// as the SD1 pipeline (generate.ts) does it, with SDXL's conditioning: a 2048-wide context from both text
// towers, the bigG pooled embedding and the micro-conditioning ids fed to the UNet's add_embedding.
// T2I-Adapters (full_adapter_xl, light_adapter) go through the same feature path as SD1.
// The VAE decodes in float32 (the graphs always compute in f32, so SDXL's fp16-overflow problem does
// not arise), tiled automatically above a 96×96 latent (768² px).
import type { Image } from '../../imaging/image.ts';
import type { Mask } from '../../imaging/masks.ts';
import { growMaskForInpaint } from '../../imaging/masks.ts';
import { resizeImage } from '../../imaging/resize.ts';
import type { SdxlCheckpoint } from '../../models/checkpoint/sdxlCheckpoint.ts';
import { resolveLoraPath, type LoraSpec } from '../../models/checkpoint/loras.ts';
import { comfySample, prepareNoise } from '../../sampling/comfy/ksampler.ts';
import { createModelSamplingDiscrete } from '../../sampling/comfy/modelSamplingDiscrete.ts';
import { alignTokenLengths, parsePrompt, promptLoras } from './conditioning.ts';
import { createDenoiser } from './denoiser.ts';
import { adapterFeatures, type T2IAdapterUse } from './t2iAdapter.ts';
import { percentToSigma } from './controlNet.ts';
import type { Denoiser } from '../../sampling/comfy/types.ts';
import { GenerateError, resolveSettings, type GenerateOptions, type GenerateRequest, type GenerateResult } from './generate.ts';
import { bilinearResize, compositeMasked, cropImage, cropMask, cropOffsets, imageToUnitTensor, vaeOutputToImages } from './pixels.ts';
import { encodeSdxlParsed, sdxlTimeIds, type SdxlMicroConditioning } from './sdxlConditioning.ts';
import { chooseResidency, estimateMemory, type MemoryEstimate } from '../../models/checkpoint/memoryEstimate.ts';

/**
 * A T2I-Adapter with ComfyUI's ControlNetApplyAdvanced step range: its features are added while
 * σ(end_percent) ≤ σ ≤ σ(start_percent) and not at all outside (sketchFidelity(f) gives scale and end together).
 */
export interface SdxlAdapterUse extends T2IAdapterUse {
  /** Default 0. */
  startPercent?: number;
  /** Default 1. */
  endPercent?: number;
}

export interface SdxlGenerateRequest extends Omit<GenerateRequest, 'controlNets' | 'clipSkip' | 'adapters'> {
  adapters?: readonly SdxlAdapterUse[];
  /** ViT-L texts (ComfyUI text_l); default: the same as prompt / negative. */
  promptL?: string;
  negativeL?: string;
  /** Micro-conditioning of the positive / negative prompt (ComfyUI defaults: image size, crop 0, ascore 6 / 2.5). */
  micro?: SdxlMicroConditioning;
  negativeMicro?: SdxlMicroConditioning;
}

export interface SdxlGenerateOptions extends GenerateOptions {
  /** Refuse, with the estimate, a request that cannot fit this many bytes even one model at a time. */
  memoryBudgetBytes?: number;
}

/** The memory estimate of a request on this checkpoint (see models/checkpoint/memoryEstimate.ts). */
export function sdxlMemoryEstimate(ckpt: SdxlCheckpoint, req: Pick<SdxlGenerateRequest, 'width' | 'height' | 'batch' | 'cfg'>): MemoryEstimate {
  return estimateMemory(
    { unetConfig: ckpt.unetConfig, vaeConfig: ckpt.vaeConfig, textConfigs: [ckpt.textG.config, ...(ckpt.textL ? [ckpt.textL.config] : [])], bytesPerWeight: ckpt.weightBytes, vaeScaleFactor: ckpt.vaeScaleFactor },
    { width: req.width ?? 1024, height: req.height ?? 1024, batch: req.batch ?? 1, cfg: req.cfg ?? 8 },
  );
}

/** Runs one SDXL generation (base or refiner checkpoint). LoRA views created here are released before returning. */
export async function generateSdxl(ckpt: SdxlCheckpoint, req: SdxlGenerateRequest, opts: SdxlGenerateOptions = {}): Promise<GenerateResult> {
  const tStart = performance.now();
  const { signal, onProgress } = opts;
  if ((req as GenerateRequest).controlNets?.length) throw new GenerateError('ControlNet is not supported with SDXL checkpoints yet');
  const s = resolveSettings({ ...req, width: req.width ?? req.init?.width ?? 1024, height: req.height ?? req.init?.height ?? 1024 });
  if (opts.memoryBudgetBytes !== undefined) {
    try {
      chooseResidency(sdxlMemoryEstimate(ckpt, { ...s }), opts.memoryBudgetBytes, `SDXL ${s.width}×${s.height}, batch ${s.batch}${s.cfg !== 1 ? ' with CFG' : ''}`);
    } catch (e) {
      throw new GenerateError((e as Error).message);
    }
  }
  const f = ckpt.vaeScaleFactor;
  const n = s.batch;

  const square = { squareBrackets: req.squareBrackets };
  const posG = parsePrompt(s.prompt, square);
  const negG = parsePrompt(s.negative, square);
  const posL = req.promptL === undefined ? posG : parsePrompt(req.promptL, square);
  const negL = req.negativeL === undefined ? negG : parsePrompt(req.negativeL, square);
  const tagLoras = promptLoras(posG, negG, posL, negL).map((t): LoraSpec => ({ path: resolveLoraPath(t.name, req.lorasDirs ?? []), strengthModel: t.weight, strengthClip: t.textWeight }));
  const loras = [...(req.loras ?? []), ...tagLoras];
  const model = loras.length ? ckpt.withLoras(loras) : ckpt;
  try {
    onProgress?.({ stage: 'text', step: 0, total: 1 });
    let t0 = performance.now();
    const pos = await encodeSdxlParsed(model, posG, posL, signal);
    const neg = await encodeSdxlParsed(model, negG, negL, signal);
    const [positive, negative] = alignTokenLengths([pos.context, neg.context]);
    const textMs = performance.now() - t0;
    onProgress?.({ stage: 'text', step: 1, total: 1 });
    signal?.throwIfAborted();

    // Latent image (as generate.ts: crop to the VAE factor, optional mask).
    t0 = performance.now();
    let width = s.width;
    let height = s.height;
    let init = req.init;
    let pixelMask: Mask | undefined;
    if (init) {
      if (req.width !== undefined && req.height !== undefined && (init.width !== req.width || init.height !== req.height)) init = resizeImage(init, req.width, req.height, 'lanczos');
      const crop = cropOffsets(init.width, init.height, f);
      if (crop.width === 0 || crop.height === 0) throw new GenerateError(`init image ${init.width}×${init.height} is smaller than the VAE factor ${f}`);
      if (req.mask) {
        const m = req.mask.width === init.width && req.mask.height === init.height ? req.mask : { width: init.width, height: init.height, data: bilinearResize(req.mask.data, req.mask.width, req.mask.height, init.width, init.height) };
        pixelMask = cropMask(m, crop.x, crop.y, crop.width, crop.height);
      }
      init = cropImage(init, crop.x, crop.y, crop.width, crop.height);
      width = init.width;
      height = init.height;
    } else if (width % f !== 0 || height % f !== 0) {
      throw new GenerateError(`width and height must be multiples of ${f}, got ${width}×${height}`);
    }
    const h = height / f;
    const w = width / f;
    if (h < ckpt.latentMultiple || w < ckpt.latentMultiple) throw new GenerateError(`image ${width}×${height} is too small: the latent must be at least ${ckpt.latentMultiple}×${ckpt.latentMultiple}`);
    if (ckpt.isInpaint) throw new GenerateError(`${ckpt.path}: SDXL inpainting checkpoints (9-channel UNet) are not supported yet; use a mask with a normal SDXL checkpoint`);
    const c = ckpt.vaeConfig.latent_channels;
    const per = c * h * w;
    const latentShape: [number, number, number, number] = [n, c, h, w];

    let latentImage: Float32Array | null = null;
    let noiseMaskLatent: Float32Array | undefined;
    if (init) {
      onProgress?.({ stage: 'encode', step: 0, total: 1 });
      const vae = await model.useVae();
      const encode = async (pixels: Float32Array): Promise<Float32Array> => {
        const one = (await vae.encode({ shape: [1, 3, height, width], data: pixels.map((v) => v * 2 - 1) })).mean.data;
        const out = new Float32Array(n * per);
        for (let b = 0; b < n; b++) out.set(one, b * per);
        return out;
      };
      const pixels = imageToUnitTensor(init);
      if (pixelMask) {
        const grown = growMaskForInpaint(pixelMask, s.growMaskBy);
        latentImage = await encode(s.inpaintMode === 'vae-encode-for-inpaint' ? greyOutMasked(pixels, pixelMask) : pixels);
        const small = bilinearResize(grown.data, width, height, w, h);
        noiseMaskLatent = new Float32Array(n * per);
        for (let b = 0; b < n; b++) for (let k = 0; k < c; k++) noiseMaskLatent.set(small, (b * c + k) * h * w);
      } else {
        latentImage = await encode(pixels);
      }
      onProgress?.({ stage: 'encode', step: 1, total: 1 });
    }
    const encodeMs = init ? performance.now() - t0 : 0;
    signal?.throwIfAborted();

    t0 = performance.now();
    const modelSampling = createModelSamplingDiscrete({ predictionType: ckpt.prediction });
    const adapters = await rangedAdapterFeatures(req.adapters ?? [], ckpt, modelSampling, w, h, opts, signal);
    const adapterMs = performance.now() - t0;

    t0 = performance.now();
    const unet = await model.useUNet();
    const noise = prepareNoise(latentShape, BigInt(s.seed));
    const timing = { unetMs: 0, calls: 0 };
    const scale = Math.fround(ckpt.latentScale);
    const denoiserWith = (adapterFeatures: Float32Array[] | undefined) => createDenoiser({
      unet, modelSampling, batch: n, channels: c, height: h, width: w,
      positive, negative, cfg: s.cfg, controls: [], adapterFeatures, timing,
      added: {
        positive: { textEmbeds: pos.pooled, timeIds: sdxlTimeIds(ckpt, width, height, req.micro) },
        negative: { textEmbeds: neg.pooled, timeIds: sdxlTimeIds(ckpt, width, height, req.negativeMicro ?? req.micro, true) },
      },
      noiseMask: noiseMaskLatent && latentImage ? { mask: noiseMaskLatent, latent: latentImage.map((v) => v * scale), noise } : undefined,
    });
    const denoiser = adapters.length ? adapterRangeDenoiser(adapters, denoiserWith) : denoiserWith(undefined);
    const result = await comfySample({
      sampler: s.sampler, scheduler: s.scheduler, steps: s.steps, denoise: s.denoise, seed: BigInt(s.seed),
      model: denoiser, latentShape, latentImage, noise, signal,
      modelSampling, latentScaleFactor: ckpt.latentScale,
      callback: (i, _d, _x, total) => onProgress?.({ stage: 'sample', step: i + 1, total }),
    });
    const sampleMs = performance.now() - t0;
    signal?.throwIfAborted();

    t0 = performance.now();
    onProgress?.({ stage: 'decode', step: 0, total: 1 });
    const vae = await model.useVae();
    const decoded = await vae.decode({ shape: latentShape, data: result.latent });
    let images: Image[] = vaeOutputToImages(decoded.data, n, width, height);
    if (pixelMask && init) images = images.map((img) => compositeMasked(init!, img, pixelMask!));
    onProgress?.({ stage: 'decode', step: 1, total: 1 });
    const decodeMs = performance.now() - t0;

    const r = model.loraReport();
    return {
      images, latent: result.latent, latentShape,
      settings: { ...s, width, height },
      loras: { applied: loras, unet: r.unet, text: mergeTowerReports(r.te1, r.te2) },
      timings: { textMs, encodeMs, adapterMs, sampleMs, unetMs: timing.unetMs, unetCalls: timing.calls, decodeMs, totalMs: performance.now() - tStart },
    };
  } finally {
    if (model !== ckpt) await model.release();
  }
}

/** One text report for both towers: patched from either; a LoRA module is unmatched only if neither tower took it. */
export function mergeTowerReports(a?: { patched: string[]; unmatched: string[] }, b?: { patched: string[]; unmatched: string[] }) {
  if (!a && !b) return undefined;
  if (!a || !b) return a ?? b;
  const bSet = new Set(b.unmatched);
  return { patched: [...a.patched, ...b.patched], unmatched: a.unmatched.filter((k) => bSet.has(k)) };
}

/** VAEEncodeForInpaint: pixels under round(mask) = 1 become 0.5 grey. */
function greyOutMasked(pixels: Float32Array, mask: Mask): Float32Array {
  const px = mask.width * mask.height;
  const out = pixels.slice();
  for (let i = 0; i < px; i++) {
    const keep = mask.data[i] > 0.5 ? 0 : 1;
    for (let ch = 0; ch < 3; ch++) out[ch * px + i] = Math.fround(Math.fround(out[ch * px + i] - 0.5) * keep + 0.5);
  }
  return out;
}

interface RangedFeatures {
  features: Float32Array[];
  sigmaHigh: number;
  sigmaLow: number;
}

/** Each adapter's scaled features and σ range (adapters with scale 0 are dropped, as ComfyUI does). */
async function rangedAdapterFeatures(uses: readonly SdxlAdapterUse[], ckpt: SdxlCheckpoint, ms: ReturnType<typeof createModelSamplingDiscrete>, w: number, h: number, opts: SdxlGenerateOptions, signal?: AbortSignal): Promise<RangedFeatures[]> {
  const out: RangedFeatures[] = [];
  for (const [i, u] of uses.entries()) {
    const a = u.startPercent ?? 0;
    const b = u.endPercent ?? 1;
    if (!(a >= 0 && a <= 1 && b >= 0 && b <= 1 && a <= b)) throw new GenerateError(`T2I-Adapter ${i + 1}: start/end percent must satisfy 0 ≤ start ≤ end ≤ 1, got ${a} / ${b}`);
    const features = await adapterFeatures([u], ckpt.unetConfig, w, h, opts.compile, signal);
    if (features) out.push({ features, sigmaHigh: percentToSigma(ms, a), sigmaLow: percentToSigma(ms, b) });
  }
  return out;
}

/**
 * Per step, the summed features of the adapters whose range holds σ — zeros when none does, which adds nothing
 * and keeps one compiled UNet (with adapter inputs) for the whole run.
 */
function adapterRangeDenoiser(adapters: readonly RangedFeatures[], make: (f: Float32Array[]) => Denoiser): Denoiser {
  const cache = new Map<string, Denoiser>();
  return (x, sigma, ...rest) => {
    const active = adapters.map((a) => !(sigma > a.sigmaHigh || sigma < a.sigmaLow));
    const key = active.map(Number).join('');
    let d = cache.get(key);
    if (!d) {
      const sum = adapters[0].features.map((f) => new Float32Array(f.length));
      adapters.forEach((a, k) => {
        if (active[k]) a.features.forEach((f, j) => f.forEach((v, i) => (sum[j][i] += v)));
      });
      cache.set(key, (d = make(sum)));
    }
    return d(x, sigma, ...rest);
  };
}
