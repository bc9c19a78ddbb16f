// A released-style ColorizeDiffusion single file (tellurion-kanata/colorizeDiffusion, "switch"/v1.5 models) as
// one object: the split UNet + sketch encoder (+ attn2 LoRA), the VAE, the OpenCLIP ViT-H/14 cond stage and
// the background path (threshold embedder + 6-layer transformer). Each part is found by its key prefix:
//   model.diffusion_model.*   UNet (LoRA keys …attn2.to_{q,k,v}.lora_{down,up}_{fg,bg}.weight)
//   control_encoder.*         sketch encoder
//   first_stage_model.*       VAE
//   cond_stage_model.visual.model.*   OpenCLIP vision tower (the original loads it from open_clip when the
//                             file lacks it: then pass `referenceEncoder`, an open_clip ViT-H-14 .safetensors)
//   thresh_embedder.*, transformer.*  background path (needed by fig2fig only)
// Prediction type follows the original demo (backend/appfunc.py load_model): a file whose name contains
// "eps" is ε-prediction, every other one v-prediction; `prediction` overrides it.
import { basename } from 'node:path';
import type { WeightStore } from '../../graph/weights.ts';
import { compile, type CompiledModel, type ExecutionProvider } from '../../runtime/session.ts';
import { openSafetensors, type SafetensorsReader } from '../../weights/safetensors.ts';
import { safetensorsWeights } from '../../weights/store.ts';
import { assertNotPickle } from '../../weights/pickle_guard.ts';
import { LDM_UNET_PREFIX } from '../../weights/keymaps/ldmUnet.ts';
import { LDM_VAE_PREFIX } from '../../weights/keymaps/ldmVae.ts';
import { parseUNetConfig, type UNetConfig } from '../../models/unet/config.ts';
import { inferLdmUNetConfig } from '../../models/unet/ldmConfig.ts';
import { loadVae, type VaeModel } from '../../models/vae/loadVae.ts';
import type { ClipVisionEncoder } from '../../models/clip/visionEncoder.ts';
import { openClipPixelsFromSigned, openClipVisionEncoder } from '../../models/clip/openClipVision.ts';
import { colorizeDiffusionModel, colorizeDiffusionWeights, loraLayoutFromWeights, SKETCH_ENCODER_PREFIX, type ColorizeDiffusionModel, type ColorizeSettings, type LoraLayout } from '../../models/splitAttention/colorizeModel.ts';
import { SKETCH_ENCODER_SCALE } from '../../models/splitAttention/sketchEncoder.ts';
import { modeFlags, type ColorizeMode } from '../../models/splitAttention/modes.ts';
import { backgroundEncoderShape, buildReferenceContextGraph, thresholdFeatures, type BackgroundEncoderShape } from '../../models/splitAttention/referenceConditioning.ts';
import { ColorizeDiffusionError, type F32Tensor } from './colorizeDiffusion.ts';

export const COLORIZE_REFERENCE_PREFIX = 'cond_stage_model.visual.model.';

export type PredictionKind = 'epsilon' | 'v_prediction';

export interface LoadColorizeDiffusionOptions {
  provider?: ExecutionProvider;
  threads?: number;
  cacheDir?: string | false;
  /** Overrides the file-name rule ("eps" in the name → epsilon, else v_prediction). */
  prediction?: PredictionKind;
  /** An OpenCLIP vision tower file (e.g. open_clip_pytorch_model.safetensors of ViT-H-14) for files without a cond stage. */
  referenceEncoder?: string;
  /** A diffusers UNet config when the structure cannot be inferred from the shapes (tests, unusual models). */
  unetConfig?: Record<string, unknown>;
}

/** Key prefixes that make a safetensors file a ColorizeDiffusion checkpoint. */
export function looksLikeColorizeDiffusion(reader: SafetensorsReader): boolean {
  const keys = [...reader.tensors.keys()];
  return keys.some((k) => k.startsWith(SKETCH_ENCODER_PREFIX)) || keys.some((k) => /\.attn2\.to_[qkv]\.lora_(down|up)_(fg|bg)\.weight$/.test(k));
}

/** True when `path` is a .safetensors file with ColorizeDiffusion keys (sketch encoder or split LoRA). */
export function isColorizeDiffusionFile(path: string): boolean {
  if (!path.toLowerCase().endsWith('.safetensors')) return false;
  let reader: SafetensorsReader | undefined;
  try {
    reader = openSafetensors(path);
    return looksLikeColorizeDiffusion(reader);
  } catch {
    return false;
  } finally {
    reader?.close();
  }
}

/**
 * For a file that isColorizeDiffusionFile rejected: throws what is really wrong with it when that is not
 * "other keys" — a pickle (refused, with the conversion hint), a truncated or corrupt safetensors file —
 * so the user is not told "not a ColorizeDiffusion checkpoint" about a broken download.
 */
export function assertColorizeDiffusionFile(path: string): void {
  assertNotPickle(path);
  openSafetensors(path).close();
}

export function predictionFromFileName(path: string): PredictionKind {
  return basename(path).toLowerCase().includes('eps') ? 'epsilon' : 'v_prediction';
}

export interface ColorizeDiffusionCheckpoint {
  readonly path: string;
  readonly unetConfig: UNetConfig;
  readonly vae: VaeModel;
  readonly prediction: PredictionKind;
  readonly predictionReason: string;
  readonly lora: LoraLayout;
  /** Background path sizes; undefined when the file has none (fig2fig then refuses). */
  readonly backgroundEncoder?: BackgroundEncoderShape;
  /** The reference encoder's square input side (224 for ViT-H/14). */
  readonly referenceSize: number;
  /** Modes this file can run. */
  readonly modes: ColorizeMode[];
  /** The split UNet + sketch encoder bound to a mode and its settings (cached per settings). */
  model(settings: ColorizeSettings): ColorizeDiffusionModel;
  /** Reference image [1,3,H,W] in [−1,1] → local tokens [1, L, D]. */
  encodeReference(image: F32Tensor): Promise<F32Tensor>;
  /** fig2fig context concat(local + th(ts_s), transformer(background local + th(ts_r))) [1, L+Q, D]. */
  referenceContext(tokens: F32Tensor, backgroundTokens: F32Tensor, referenceThreshold: number, sketchThreshold: number): Promise<F32Tensor>;
  release(): Promise<void>;
}

function hasPrefix(reader: SafetensorsReader, prefix: string): boolean {
  for (const k of reader.tensors.keys()) if (k.startsWith(prefix)) return true;
  return false;
}

/** Opens a ColorizeDiffusion single file; nothing is compiled until first use. */
export async function loadColorizeDiffusion(path: string, opts: LoadColorizeDiffusionOptions = {}): Promise<ColorizeDiffusionCheckpoint> {
  if (!path.toLowerCase().endsWith('.safetensors')) assertNotPickle(path);
  const reader = openSafetensors(path);
  const extra: SafetensorsReader[] = [];
  const opened: { release(): Promise<void> }[] = [];
  const closeAll = async () => {
    for (const o of opened) await o.release();
    reader.close();
    for (const r of extra) r.close();
  };
  try {
    const missing: string[] = [];
    if (!reader.has(`${LDM_UNET_PREFIX}input_blocks.0.0.weight`)) missing.push(`the UNet (${LDM_UNET_PREFIX}*)`);
    if (!hasPrefix(reader, SKETCH_ENCODER_PREFIX)) missing.push(`the sketch encoder (${SKETCH_ENCODER_PREFIX}*)`);
    if (!hasPrefix(reader, `${LDM_VAE_PREFIX}decoder.`)) missing.push(`the VAE (${LDM_VAE_PREFIX}*)`);
    let referenceEncoder: ClipVisionEncoder | undefined;
    if (missing.length === 0) {
      referenceEncoder = openClipVisionEncoder(reader, opts);
      if (!referenceEncoder && opts.referenceEncoder) {
        const r = openSafetensors(opts.referenceEncoder);
        extra.push(r);
        referenceEncoder = openClipVisionEncoder(r, opts);
        if (!referenceEncoder) throw new ColorizeDiffusionError(`${opts.referenceEncoder} holds no OpenCLIP vision tower (looked for visual.conv1.weight and visual.transformer.resblocks.0.attn.in_proj_weight)`);
      }
      if (!referenceEncoder) missing.push(`the reference encoder (OpenCLIP ViT-H/14 under ${COLORIZE_REFERENCE_PREFIX}*; give an open_clip ViT-H-14 .safetensors as the reference encoder)`);
    }
    if (missing.length) throw new ColorizeDiffusionError(`${path} is not a complete ColorizeDiffusion checkpoint: missing ${missing.join('; ')}`);
    opened.push(referenceEncoder!);

    const unetConfig = opts.unetConfig ? parseUNetConfig(opts.unetConfig) : inferLdmUNetConfig(reader);
    const weights = colorizeDiffusionWeights(reader, unetConfig);
    const lora = loraLayoutFromWeights(weights.unet, unetConfig);
    const compileOpts = { provider: opts.provider, threads: opts.threads, cacheDir: opts.cacheDir };
    const vae = await loadVae(path, compileOpts);
    opened.push(vae);
    const enc = referenceEncoder!;
    const problems: string[] = [];
    if (vae.scaleFactor !== SKETCH_ENCODER_SCALE) problems.push(`the VAE downsamples ${vae.scaleFactor}× but the sketch encoder ${SKETCH_ENCODER_SCALE}×`);
    if (vae.config.latent_channels !== unetConfig.inChannels) problems.push(`the VAE has ${vae.config.latent_channels} latent channels, the UNet takes ${unetConfig.inChannels}`);
    if (enc.config.projection_dim !== unetConfig.crossAttentionDim) problems.push(`the reference encoder gives ${enc.config.projection_dim}-wide tokens, the UNet's cross_attention_dim is ${unetConfig.crossAttentionDim}`);
    const store: WeightStore = safetensorsWeights(reader);
    const background = backgroundEncoderShape(store);
    if (background && background.dim !== unetConfig.crossAttentionDim) problems.push(`the background transformer is ${background.dim} wide, the UNet's cross_attention_dim is ${unetConfig.crossAttentionDim}`);
    if (problems.length) throw new ColorizeDiffusionError(`${path}: parts do not fit together: ${problems.join('; ')}`);

    const prediction = opts.prediction ?? predictionFromFileName(path);
    const predictionReason = opts.prediction ? 'given' : `file name ${basename(path).toLowerCase().includes('eps') ? 'contains' : 'lacks'} "eps" (the original demo's rule)`;
    const modes: ColorizeMode[] = ['vanilla'];
    if (lora.loraBlocks.length) {
      modes.push('bg2fig');
      if (background) modes.push('fig2fig');
    }
    const models = new Map<string, ColorizeDiffusionModel>();
    const contextSessions = new Map<string, Promise<CompiledModel>>();
    opened.push({
      async release() {
        for (const m of models.values()) await m.release();
        models.clear();
        for (const s of contextSessions.values()) await (await s).release();
        contextSessions.clear();
      },
    });

    return {
      path, unetConfig, vae, prediction, predictionReason, lora, backgroundEncoder: background, referenceSize: enc.config.image_size, modes,
      model(settings) {
        const flags = modeFlags(settings.mode);
        if ((flags.fgLora || flags.bgLora) && !lora.loraBlocks.length) {
          throw new ColorizeDiffusionError(`${basename(path)} has no split-attention LoRA weights (…attn2.to_q.lora_down_fg.weight): mode ${settings.mode} needs them; use --mode vanilla`);
        }
        if (settings.mode === 'fig2fig' && !background) {
          throw new ColorizeDiffusionError(`${basename(path)} has no background encoder (thresh_embedder.*, transformer.*): mode fig2fig needs it; use bg2fig or vanilla`);
        }
        const key = JSON.stringify(settings);
        let m = models.get(key);
        if (!m) {
          m = colorizeDiffusionModel(unetConfig, weights, settings, { ...compileOpts, lora });
          models.set(key, m);
        }
        return m;
      },
      async encodeReference(image) {
        const pixels = openClipPixelsFromSigned(image, enc.config.image_size);
        return (await enc.encode(pixels, { localTokens: true })).local_tokens;
      },
      async referenceContext(tokens, backgroundTokens, referenceThreshold, sketchThreshold) {
        if (!background) throw new ColorizeDiffusionError(`${basename(path)} has no background encoder (thresh_embedder.*, transformer.*)`);
        const key = `${tokens.shape.join('x')}:${backgroundTokens.shape.join('x')}`;
        let s = contextSessions.get(key);
        if (!s) {
          s = compile(buildReferenceContextGraph(background, tokens.shape[0], tokens.shape[1], backgroundTokens.shape[1]), store, compileOpts);
          contextSessions.set(key, s);
          s.catch(() => contextSessions.delete(key));
        }
        const out = await (await s).run({
          tokens: tokens.data, background_tokens: backgroundTokens.data,
          threshold_features: thresholdFeatures([referenceThreshold, sketchThreshold], background.thresholdFeatures),
        });
        return { shape: out.context.shape, data: out.context.data as Float32Array };
      },
      release: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
