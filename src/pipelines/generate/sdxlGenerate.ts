// SDXL txt2img / img2img / inpainting — ComfyUI's graph
//   CheckpointLoaderSimple → [LoraLoader] → CLIPTextEncodeSDXL (or CLIPTextEncode, or …Refiner) ×2 →
//   EmptyLatentImage | VAEEncode | VAEEncodeForInpaint | SetLatentNoiseMask → KSampler → VAEDecode
// as the SD1 pipeline (generate.ts) does it, with SDXL's conditioning: a 2048-wide context from both text
// towers, the bigG pooled embedding and the micro-conditioning ids fed to the UNet's add_embedding.
// It is a composition of the workflow's node-sized steps (ksample, vaeSteps), so it samples exactly as the graph.
// T2I-Adapters (full_adapter_xl, light_adapter) go through the same feature path as SD1, with step ranges;
// ControlNets (SDXL ones: they also take text_embeds / time_ids) as ControlNetApplyAdvanced attaches them.
// Inpainting checkpoints (9-channel UNet) get [latent ‖ mask ‖ greyed-image latent] as ComfyUI feeds them.
// The VAE decodes in float32 (the graphs always compute in f32, so SDXL's fp16-overflow problem does
// not arise), tiled automatically above a 96×96 latent (768² px).
import { convertChannels, type Image } from '../../imaging/image.ts';
import { growMaskForInpaint } from '../../imaging/masks.ts';
import { batchEntryToImage, imagesToBatch, maskBatch } from '../../imaging/tensorBatch.ts';
import type { SdxlCheckpoint } from '../../models/checkpoint/sdxlCheckpoint.ts';
import { resolveLoraPath, type LoraSpec } from '../../models/checkpoint/loras.ts';
import { assertSdxlFits } from './sdxlMemory.ts';
import { validateAdapterRanges, type RangedAdapterUse } from './adapterRanges.ts';
import { parsePrompt, promptLoras } from './conditioning.ts';
import { GenerateError, prepareInit, resolveSettings, type GenerateOptions, type GenerateRequest, type GenerateResult } from './generate.ts';
import { ksample, type Conditioning } from './ksample.ts';
import { emptyLatent, repeatLatent, type Latent } from './latent.ts';
import { compositeMasked } from './pixels.ts';
import { encodeSdxlParsed, type SdxlMicroConditioning } from './sdxlConditioning.ts';
import { vaeDecode, vaeEncode, vaeEncodeForInpaint } from './vaeSteps.ts';

/** A T2I-Adapter with ComfyUI's ControlNetApplyAdvanced step range (see adapterRanges.ts). */
export type SdxlAdapterUse = RangedAdapterUse;

export interface SdxlGenerateRequest extends Omit<GenerateRequest, 'clipSkip' | 'adapters'> {
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

export { sdxlMemoryEstimate } from './sdxlMemory.ts';

/**
 * Runs one SDXL generation (base or refiner checkpoint) as the workflow's node-sized steps do it: prompts →
 * SDXL CONDITIONING, VAEEncode / VAEEncodeForInpaint / noise mask → ksample → vaeDecode (so `inkflow generate`,
 * a ComfyUI graph and this function give the same pixels). LoRA views created here are released before returning.
 */
export async function generateSdxl(ckpt: SdxlCheckpoint, req: SdxlGenerateRequest, opts: SdxlGenerateOptions = {}): Promise<GenerateResult> {
  const tStart = performance.now();
  const { signal, onProgress } = opts;
  const s = resolveSettings({ ...req, width: req.width ?? req.init?.width ?? 1024, height: req.height ?? req.init?.height ?? 1024 });
  const adapters = req.adapters ?? [];
  try {
    validateAdapterRanges(adapters);
  } catch (e) {
    throw new GenerateError((e as Error).message);
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
  if (opts.memoryBudgetBytes !== undefined) {
    try {
      assertSdxlFits(ckpt, s, opts.memoryBudgetBytes, { controls: req.controlNets, adapters, loras: [...ckpt.loras, ...loras] });
    } catch (e) {
      throw new GenerateError((e as Error).message);
    }
  }
  const model = loras.length ? ckpt.withLoras(loras) : ckpt;
  try {
    // CLIPTextEncode(SDXL) ×2.
    onProgress?.({ stage: 'text', step: 0, total: 1 });
    let t0 = performance.now();
    const pos = await encodeSdxlParsed(model, posG, posL, signal);
    const neg = await encodeSdxlParsed(model, negG, negL, signal);
    const positive: Conditioning = { text: pos.context, controls: req.controlNets ?? [], adapters, sdxl: { pooled: pos.pooled, micro: req.micro } };
    const negative: Conditioning = { text: neg.context, controls: positive.controls, adapters: [], sdxl: { pooled: neg.pooled, micro: req.negativeMicro ?? req.micro } };
    const textMs = performance.now() - t0;
    onProgress?.({ stage: 'text', step: 1, total: 1 });
    signal?.throwIfAborted();

    // The latent image: EmptyLatentImage, or the init image (resized, cropped to the VAE factor) encoded.
    t0 = performance.now();
    const { width, height, init, pixelMask } = prepareInit(req, s.width, s.height, f);
    const h = height / f;
    const w = width / f;
    if (h < ckpt.latentMultiple || w < ckpt.latentMultiple) throw new GenerateError(`image ${width}×${height} is too small: the latent must be at least ${ckpt.latentMultiple}×${ckpt.latentMultiple}`);
    if (ckpt.isInpaint && !pixelMask) throw new GenerateError(`${ckpt.path} is an SDXL inpainting checkpoint (9-channel UNet): give an init image and a mask`);

    let latent: Latent = emptyLatent(width, height, n, ckpt.vaeConfig.latent_channels, f);
    if (init) {
      onProgress?.({ stage: 'encode', step: 0, total: 1 });
      const pixels = imagesToBatch([convertChannels(init, 3)]);
      if (pixelMask && s.inpaintMode === 'vae-encode-for-inpaint') {
        latent = await vaeEncodeForInpaint(model, pixels, maskBatch(1, height, width, pixelMask.data), s.growMaskBy, signal);
      } else {
        latent = await vaeEncode(model, pixels, signal);
        // SetLatentNoiseMask with the grown mask: only the masked part is denoised.
        if (pixelMask) latent = { ...latent, noiseMask: { data: growMaskForInpaint(pixelMask, s.growMaskBy).data, shape: [1, height, width] } };
        // An inpainting UNet also takes the greyed-out image (ComfyUI's InpaintModelConditioning with noise_mask).
        if (pixelMask && ckpt.isInpaint) {
          const grey = await vaeEncodeForInpaint(model, pixels, maskBatch(1, height, width, pixelMask.data), s.growMaskBy, signal);
          latent.inpaint = { image: grey.samples, mask: grey.noiseMask! };
        }
      }
      if (n > 1) latent = repeatLatent(latent, n);
      onProgress?.({ stage: 'encode', step: 1, total: 1 });
    }
    const encodeMs = init ? performance.now() - t0 : 0;
    signal?.throwIfAborted();

    // KSampler.
    t0 = performance.now();
    const timing = { unetMs: 0, calls: 0 };
    const sampled = await ksample(model, positive, negative, latent, { seed: BigInt(s.seed), steps: s.steps, cfg: s.cfg, sampler: s.sampler, scheduler: s.scheduler, denoise: s.denoise }, {
      signal, compile: opts.compile, timing, onStep: (step, total) => onProgress?.({ stage: 'sample', step, total }),
    });
    const sampleMs = performance.now() - t0;
    signal?.throwIfAborted();

    // VAEDecode (+ the original pixels pasted back outside the mask).
    t0 = performance.now();
    onProgress?.({ stage: 'decode', step: 0, total: 1 });
    const decoded = await vaeDecode(model, sampled, signal);
    let images: Image[] = Array.from({ length: decoded.batch }, (_, b) => batchEntryToImage(decoded, b));
    if (pixelMask && init) images = images.map((img) => compositeMasked(init!, img, pixelMask!));
    onProgress?.({ stage: 'decode', step: 1, total: 1 });
    const decodeMs = performance.now() - t0;

    const r = model.loraReport();
    return {
      images, latent: sampled.samples, latentShape: sampled.shape,
      settings: { ...s, width, height },
      loras: { applied: loras, unet: r.unet, text: mergeTowerReports(r.te1, r.te2) },
      timings: { textMs, encodeMs, adapterMs: 0, sampleMs, unetMs: timing.unetMs, unetCalls: timing.calls, decodeMs, totalMs: performance.now() - tStart },
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

