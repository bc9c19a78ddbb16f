// Stable Diffusion Reference Only (Ai & Sheng; aihao2000/stable-diffusion-reference-only) colouring, wired the
// way the original StableDiffusionReferenceOnlyPipeline runs (quirks listed in shared/golden/README.md):
//   reference → CLIPImageProcessor → CLIPVisionModel last_hidden_state (no post-LN, no projection) = context
//   blueprint (white lines on black) → [0,1] NCHW at its own size floored to a multiple of 8
//   x_T = torch.randn(seed) · init_noise_sigma;  UniPC from_config(saved scheduler config), one UNet call per
//   step (no classifier-free guidance);  image = round(clamp(vae.decode(x_0 / scaling_factor)/2 + 0.5)·255).
// The pipeline holds no maths of its own: models, scheduler and image conversions live in their layers.
import { assertImage, type Image } from '../../imaging/image.ts';
import { detectLinePolarity } from '../../imaging/lineart.ts';
import type { ExecutionProvider } from '../../runtime/session.ts';
import { loadUNet, type LoadedUNet } from '../../models/unet/load.ts';
import { openUNetCheckpoint } from '../../models/unet/load.ts';
import type { UNetConfig } from '../../models/unet/config.ts';
import { conditioningScale } from '../../models/unet/conditioningEmbedding.ts';
import { loadVae, type VaeModel } from '../../models/vae/loadVae.ts';
import { loadClipVisionEncoder, type ClipVisionEncoder } from '../../models/clip/visionEncoder.ts';
import { parseClipImageProcessorConfig, preprocessClipImage, type ClipImageProcessorConfig } from '../../models/clip/imageProcessor.ts';
import { fromConfig, type DiffusersScheduler } from '../../sampling/diffusers/index.ts';
import { createTorchGenerator } from '../../sampling/torchRandom.ts';
import { assertFinite } from '../../sampling/finiteCheck.ts';
import { cachedModel, fullStepSchedule } from '../../sampling/stepCache.ts';
import type { Precision } from '../../graph/int8Lowering.ts';
import { blueprintToTensor } from './blueprintTensor.ts';
import { decodedToImage } from './decodedImage.ts';
import { blueprintHasLines } from './blueprint.ts';
import { readSdroFolder, type SdroFolder } from './sdroFolder.ts';

/** The solver the SDRO demo and training validation use, built from the saved (DDPM) scheduler config. */
export const SDRO_SCHEDULER = 'UniPCMultistepScheduler';
export const SDRO_DEFAULT_STEPS = 20;

/**
 * Where colouring's step caching cuts the UNet (ColorizeOptions.cachedUpLayers): a shallow step reruns
 * only the last layer of the last up block (the one fed by conv_in's skip), not the first down level and
 * the whole last up block as DeepCache's branch does — for SD2.1 one 64² resnet + transformer instead of
 * five. The blueprint pins the layout, so this costs colouring almost nothing: on the bundled trained
 * model (`npm run bench -- bundled` inputs, 20 UniPC steps, worst / mean PSNR vs uncached) full every 3
 * steps gives 47.7 / 48.8 dB cutting here and 47.6 / 49.5 dB at DeepCache's branch; every 4 steps 42.8 /
 * 44.0 vs 42.0 / 44.4 dB.
 */
export function sdroCachedUpLayers(config: UNetConfig): number {
  return config.up[config.up.length - 1].layers - 1;
}

export class SdroError extends Error {
  override name = 'SdroError';
}

export interface LoadSdroOptions {
  provider?: ExecutionProvider;
  threads?: number;
  /** Compile cache folder (false: compile in memory, nothing written). */
  cacheDir?: string | false;
  /** 'int8': image encoder, UNet and VAE run quantised (lossy, opt-in; see graph/int8Lowering.ts). Default 'fp32'. */
  precision?: Precision;
}

export interface F32Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface ColorizeProgress {
  /** 'encode' (reference + blueprint ready), 'step' (after each denoising step), 'decode' (image ready). */
  readonly phase: 'encode' | 'step' | 'decode';
  /** Denoising steps done so far. */
  readonly step: number;
  readonly steps: number;
  /** The timestep just computed (phase 'step'). */
  readonly timestep?: number;
}

export interface ColorizeOptions {
  /** The character sheet whose colours to use. */
  reference: Image;
  /** Line art, WHITE lines on BLACK (see blueprint.ts to make one); its size (floored to ×8) is the output size. */
  blueprint: Image;
  steps?: number;
  /** torch CPU generator seed; default a random one (returned in the result). */
  seed?: number | bigint;
  /** diffusers config keys that override the saved scheduler config (e.g. {prediction_type: 'v_prediction'}). */
  schedulerOverrides?: Record<string, unknown>;
  /** VAE decode tiling (VaeModel's option; 'auto' tiles only large images). */
  tiledDecode?: boolean | 'auto';
  /** Keep every intermediate tensor in the result (golden checks, debugging). */
  trace?: boolean;
  /**
   * Step caching: run the whole UNet every N steps (and on the first and last) and only its shallow
   * blocks in between (sampling/stepCache.ts). Lossy, opt-in; absent or 1: every step full.
   */
  cacheSteps?: number;
  /**
   * With cacheSteps: how many of the UNet's last up-block layers a shallow step reuses from the last full
   * step (buildUNet's cachedUpLayers). Default sdroCachedUpLayers(config): all but the last.
   */
  cachedUpLayers?: number;
  onProgress?: (p: ColorizeProgress) => void;
  signal?: AbortSignal;
  /**
   * The reference's CLIP last_hidden_state [1, tokens, width], already encoded (ComfyUI's CLIPVisionEncode);
   * the reference image is then not encoded again.
   */
  referenceEmbedding?: F32Tensor;
}

/** Every tensor the original pipeline computes, named as shared/golden/sdro_pipeline records them. */
export interface SdroTrace {
  referencePixelValues: F32Tensor;
  clipLastHiddenState: F32Tensor;
  blueprintTensor: F32Tensor;
  initialLatents: F32Tensor;
  timesteps: number[];
  unetInputs: Float32Array[];
  noisePreds: Float32Array[];
  x0Preds: Float32Array[];
  latentsAfterStep: Float32Array[];
  finalLatents: F32Tensor;
  vaeDecodeInput: F32Tensor;
  decoded: F32Tensor;
}

export interface ColorizeResult {
  /** RGB, the blueprint's size floored to a multiple of 8. */
  image: Image;
  /** Final latents x_0 (before the division by the VAE scaling factor). */
  latents: F32Tensor;
  seed: bigint;
  timesteps: number[];
  /** Documented oddities of this run (e.g. a blueprint without lines), for the caller to show. */
  warnings: string[];
  /** UNet calls by kind: with step caching some are shallow. */
  unetCalls: { full: number; shallow: number };
  trace?: SdroTrace;
}

export interface SdroPipeline {
  readonly folder: SdroFolder;
  readonly unetConfig: UNetConfig;
  /** Pixels per latent pixel (8 for SD). */
  readonly scaleFactor: number;
  /** The VAE's latent scaling factor (0.18215 for SD2.1). */
  readonly vaeScalingFactor: number;
  /** Number of reference tokens (257 for ViT-L/14 at 224 px). */
  readonly referenceTokens: number;
  /** A fresh UniPC scheduler as the original pipeline builds it (from_config of the saved scheduler config). */
  createScheduler(overrides?: Record<string, unknown>): DiffusersScheduler;
  /** Reference image → CLIP last_hidden_state [1, tokens, width] (plus the processor's pixel values). */
  encodeReference(reference: Image): Promise<{ pixelValues: F32Tensor; lastHiddenState: F32Tensor }>;
  colorize(opts: ColorizeOptions): Promise<ColorizeResult>;
  /** Latent sizes ("HxW") with a compiled UNet (one session per size, reused). */
  compiledUNetSizes(): string[];
  /** Frees every compiled session. */
  release(): Promise<void>;
}

/** latents / scaling_factor as torch computes it: a true float32 division (not a multiply by the reciprocal). */
export function unscaleLatents(latents: Float32Array, scalingFactor: number): Float32Array {
  const s = Math.fround(scalingFactor);
  return latents.map((v) => Math.fround(v / s));
}

function randomSeed(): bigint {
  // torch seeds are 64-bit; 53 random bits keep the seed a plain number when printed or stored in JSON.
  return BigInt(Math.floor(Math.random() * Number.MAX_SAFE_INTEGER));
}

function checkSteps(steps: number): void {
  if (!Number.isInteger(steps) || steps < 1 || steps > 1000) throw new SdroError(`steps must be an integer in [1, 1000], got ${steps}`);
}

/** Loads an SDRO model folder (the released diffusers layout) and returns the colouring pipeline. */
export async function loadSdroPipeline(dir: string, opts: LoadSdroOptions = {}): Promise<SdroPipeline> {
  const folder = readSdroFolder(dir);
  const compileOpts = { provider: opts.provider, threads: opts.threads, cacheDir: opts.cacheDir, ...(opts.precision === 'int8' ? { precision: opts.precision } : {}) };

  const unetCheckpoint = openUNetCheckpoint(folder.unetDir);
  const unetConfig = unetCheckpoint.config;
  unetCheckpoint.reader.close();
  if (!unetConfig.conditioning) {
    throw new SdroError(`${folder.unetDir}/config.json is a ${unetConfig.className}: SDRO needs UNet2DDobuleConditionModel (a UNet with a blueprint embedding)`);
  }
  const processor: ClipImageProcessorConfig = parseClipImageProcessorConfig(folder.preprocessorConfig, `${dir}/clip_image_processor/preprocessor_config.json`);
  // Build the scheduler once now so a bad scheduler config fails at load, not on the first image.
  fromConfig(SDRO_SCHEDULER, { ...folder.schedulerConfig });

  // One compiled UNet per latent size (shapes are static in the IR); the disk compile cache makes the
  // second process start fast too.
  const unets = new Map<string, Promise<LoadedUNet>>();
  const encoder: ClipVisionEncoder = await loadClipVisionEncoder(folder.imageEncoderDir, compileOpts);
  let vae: VaeModel;
  try {
    vae = await loadVae(folder.vaeDir, compileOpts);
  } catch (e) {
    await encoder.release();
    throw e;
  }
  const release = async () => {
    const all = [...unets.values()];
    unets.clear();
    for (const u of all) await (await u).release();
    await encoder.release();
    await vae.release();
  };

  const scaleFactor = vae.scaleFactor;
  const blueprintScale = conditioningScale(unetConfig.conditioning.embeddingOutChannels);
  const grid = encoder.config.image_size / encoder.config.patch_size;
  const referenceTokens = grid * grid + 1;
  const problems: string[] = [];
  if (blueprintScale !== scaleFactor) problems.push(`the UNet's blueprint embedding downsamples ${blueprintScale}× but the VAE ${scaleFactor}×`);
  if (encoder.config.hidden_size !== unetConfig.crossAttentionDim) problems.push(`the image encoder width ${encoder.config.hidden_size} differs from the UNet's cross_attention_dim ${unetConfig.crossAttentionDim}`);
  if (vae.config.latent_channels !== unetConfig.inChannels) problems.push(`the VAE has ${vae.config.latent_channels} latent channels but the UNet takes ${unetConfig.inChannels}`);
  if (problems.length) {
    await release();
    throw new SdroError(`${dir}: components do not fit together: ${problems.join('; ')}`);
  }

  const unetFor = (h: number, w: number, deepCache?: 'produce' | 'consume', cachedUpLayers = 0): Promise<LoadedUNet> => {
    const key = `${h}x${w}${deepCache ? `:${deepCache}:${cachedUpLayers}` : ''}`;
    let u = unets.get(key);
    if (!u) {
      u = loadUNet(folder.unetDir, { batch: 1, height: h, width: w, seqLen: referenceTokens, config: unetConfig, ...(deepCache ? { deepCache, cachedUpLayers } : {}), ...compileOpts });
      unets.set(key, u);
      u.catch(() => unets.delete(key));
    }
    return u;
  };

  const createScheduler = (overrides: Record<string, unknown> = {}) => fromConfig(SDRO_SCHEDULER, { ...folder.schedulerConfig }, overrides);

  const encodeReference: SdroPipeline['encodeReference'] = async (reference) => {
    assertImage(reference, 'reference');
    const pixelValues = preprocessClipImage(reference, processor);
    const out = await encoder.encode(pixelValues);
    return { pixelValues, lastHiddenState: out.last_hidden_state };
  };

  const checkEmbedding = (e: F32Tensor): F32Tensor => {
    const want = [1, referenceTokens, unetConfig.crossAttentionDim];
    if (e.shape.join(',') !== want.join(',')) {
      throw new SdroError(`the reference embedding is [${e.shape.join(', ')}]; this SDRO model needs a CLIP last_hidden_state of [${want.join(', ')}] (encode the reference with its image encoder)`);
    }
    return e;
  };

  const colorize: SdroPipeline['colorize'] = async (o) => {
    const steps = o.steps ?? SDRO_DEFAULT_STEPS;
    checkSteps(steps);
    const signal = o.signal;
    signal?.throwIfAborted();
    assertImage(o.reference, 'reference');
    const bp = blueprintToTensor(o.blueprint, scaleFactor);
    const warnings: string[] = [];
    if (!blueprintHasLines(o.blueprint)) warnings.push('the blueprint has no lines (all black): colouring follows the reference only');
    else if (detectLinePolarity(o.blueprint) === 'dark-on-light') {
      warnings.push('the blueprint looks like dark lines on a light page; SDRO expects white lines on black (prepareBlueprint converts it)');
    }
    if (bp.width !== o.blueprint.width || bp.height !== o.blueprint.height) {
      warnings.push(`blueprint ${o.blueprint.width}×${o.blueprint.height} resized to ${bp.width}×${bp.height} (sides must be multiples of ${scaleFactor})`);
    }
    const scheduler = createScheduler(o.schedulerOverrides);
    if (typeof o.seed === 'number' && !Number.isSafeInteger(o.seed)) throw new SdroError(`seed must be an integer (a bigint beyond 2^53), got ${o.seed}`);
    const seed = o.seed === undefined ? randomSeed() : BigInt(o.seed);

    const { pixelValues, lastHiddenState } = o.referenceEmbedding
      ? { pixelValues: { shape: [0], data: new Float32Array(0) }, lastHiddenState: checkEmbedding(o.referenceEmbedding) }
      : await encodeReference(o.reference);
    signal?.throwIfAborted();
    const h = bp.height / scaleFactor;
    const w = bp.width / scaleFactor;
    const interval = o.cacheSteps ?? 1;
    const schedule = fullStepSchedule(steps, interval);
    const cached = interval > 1 && steps > 2;
    const split = o.cachedUpLayers ?? sdroCachedUpLayers(unetConfig);
    const unet = await unetFor(h, w, cached ? 'produce' : undefined, split);
    const shallowUNet = cached ? await unetFor(h, w, 'consume', split) : undefined;
    signal?.throwIfAborted();
    type UNetCall = { sample: Float32Array; timestep: number };
    const unetInputs = (x: UNetCall) => ({ sample: x.sample, timestep: x.timestep, encoderHiddenStates: lastHiddenState.data, blueprint: bp.data });
    const model = cachedModel<UNetCall>({
      async full(x) {
        const r = await unet.forwardCached(unetInputs(x));
        return { sample: r.sample, deepFeatures: r.deepFeatures ?? new Float32Array(0) };
      },
      // The shallow graph takes the blueprint embedding from the cached state, not the blueprint.
      shallow: async (x, features) => (await shallowUNet!.forwardCached({ ...unetInputs(x), blueprint: undefined }, features)).sample,
    }, cached ? schedule : []);
    o.onProgress?.({ phase: 'encode', step: 0, steps });

    const latentShape = [1, unetConfig.inChannels, h, w];
    const noise = createTorchGenerator(seed).randn(latentShape);
    const sigma = scheduler.initNoiseSigma;
    let latents = sigma === 1 ? noise : noise.map((v) => Math.fround(v * sigma));
    const initialLatents = latents;
    scheduler.setTimesteps(steps);
    const timesteps = [...scheduler.timesteps];
    const trace = o.trace ? { unetInputs: [] as Float32Array[], noisePreds: [] as Float32Array[], x0Preds: [] as Float32Array[], latentsAfterStep: [] as Float32Array[] } : undefined;

    for (let i = 0; i < timesteps.length; i++) {
      const t = timesteps[i];
      const input = scheduler.scaleModelInput(latents, t);
      const noisePred = await model.run({ sample: input, timestep: t });
      assertFinite(noisePred, `UNet output at step ${i + 1}/${timesteps.length} (timestep ${t})`, i + 1);
      const res = scheduler.step(noisePred, t, latents);
      latents = res.prevSample;
      if (trace) {
        trace.unetInputs.push(input);
        trace.noisePreds.push(noisePred);
        trace.x0Preds.push(res.convertedModelOutput ?? res.predOriginalSample ?? new Float32Array(0));
        trace.latentsAfterStep.push(latents);
      }
      o.onProgress?.({ phase: 'step', step: i + 1, steps: timesteps.length, timestep: t });
      signal?.throwIfAborted();
    }

    const decodeInput = unscaleLatents(latents, vae.config.scaling_factor);
    const decoded = await vae.decode({ shape: latentShape, data: decodeInput }, { tiled: o.tiledDecode ?? 'auto' });
    const image = decodedToImage(decoded.data, decoded.shape);
    o.onProgress?.({ phase: 'decode', step: timesteps.length, steps: timesteps.length });
    const result: ColorizeResult = { image, latents: { shape: latentShape, data: latents }, seed, timesteps, warnings, unetCalls: { ...model.stats } };
    if (trace) {
      result.trace = {
        referencePixelValues: pixelValues,
        clipLastHiddenState: lastHiddenState,
        blueprintTensor: { shape: bp.shape, data: bp.data },
        initialLatents: { shape: latentShape, data: initialLatents },
        timesteps,
        ...trace,
        finalLatents: { shape: latentShape, data: latents },
        vaeDecodeInput: { shape: latentShape, data: decodeInput },
        decoded,
      };
    }
    return result;
  };

  return { folder, unetConfig, scaleFactor, vaeScalingFactor: vae.config.scaling_factor, referenceTokens, createScheduler, encodeReference, colorize, release,
    compiledUNetSizes: () => [...unets.keys()] };
}
