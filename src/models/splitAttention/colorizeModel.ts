// A ColorizeDiffusion model ready to run: the split UNet (one compiled graph per batch size and latent size)
// and the sketch encoder, bound to weights. Released checkpoints are LDM single files: UNet under
// `model.diffusion_model.` (LoRA keys like output_blocks.3.1.transformer_blocks.0.attn2.to_q.lora_down_fg.weight,
// which the UNet key map carries through unchanged) and the sketch encoder under `control_encoder.`.
import { createGraph, type Graph } from '../../graph/graph.ts';
import type { WeightStore } from '../../graph/weights.ts';
import { compiledModels } from '../../runtime/compiledModels.ts';
import type { CompileOptions } from '../../runtime/session.ts';
import type { SafetensorsReader } from '../../weights/safetensors.ts';
import { safetensorsWeights } from '../../weights/store.ts';
import { unetWeights } from '../unet/load.ts';
import type { UNetConfig } from '../unet/config.ts';
import { buildSplitUNet, checkSplitUNetConfig, hintShapes, type UNetPart } from './splitUNet.ts';
import { sketchEncoder, SKETCH_ENCODER_SCALE } from './sketchEncoder.ts';
import { modeFlags, type ColorizeMode } from './modes.ts';
import type { LoraBranch, LoraRankFn } from './splitCrossAttention.ts';
import type { SplitAttentionSettings } from './splitTransformer.ts';

export const SKETCH_ENCODER_PREFIX = 'control_encoder.';

export interface ColorizeUNetShapes {
  batch: number;
  /** Latent size. */
  height: number;
  width: number;
  /** Reference tokens (256 OpenCLIP ViT-H local tokens in the released models) and background tokens. */
  fgTokens: number;
  bgTokens: number;
}

export interface ColorizeSettings {
  mode: ColorizeMode;
  /** ts_s (default 0.05). */
  sketchThreshold?: number;
  referenceScale?: number;
  fgScale?: number;
  bgScale?: number;
  mergeScale?: number;
}

export const DEFAULT_SKETCH_THRESHOLD = 0.05;

/** What the weights say about the LoRA: where it is and its ranks. */
export interface LoraLayout {
  loraBlocks: UNetPart[];
  ranks: LoraRankFn;
}

function attentionSettings(s: ColorizeSettings, ranks: LoraRankFn): SplitAttentionSettings {
  return {
    flags: modeFlags(s.mode), threshold: s.sketchThreshold ?? DEFAULT_SKETCH_THRESHOLD, ranks,
    referenceScale: s.referenceScale, fgScale: s.fgScale, bgScale: s.bgScale, mergeScale: s.mergeScale,
  };
}

/**
 * The UNet graph. Inputs: sample, timestep [B], fg_context [B,L,D], and for split modes bg_context and
 * sketch_mask [B,1,h,w]; hint_0…hint_n. Output out_sample.
 */
export function buildColorizeUNetGraph(config: UNetConfig, shapes: ColorizeUNetShapes, settings: ColorizeSettings, lora: LoraLayout): Graph {
  checkSplitUNetConfig(config);
  const { batch: b, height: h, width: w } = shapes;
  const g = createGraph('colorize-unet');
  const sample = g.input('sample', 'f32', [b, config.inChannels, h, w]);
  const timestep = g.input('timestep', 'f32', [b]);
  const fg = g.input('fg_context', 'f32', [b, shapes.fgTokens, config.crossAttentionDim]);
  const split = modeFlags(settings.mode).split;
  const bg = split ? g.input('bg_context', 'f32', [b, shapes.bgTokens, config.crossAttentionDim]) : undefined;
  const mask = split ? g.input('sketch_mask', 'f32', [b, 1, h, w]) : undefined;
  const hints = hintShapes(config, b, h, w).map((s, k) => g.input(`hint_${k}`, 'f32', s));
  const out = buildSplitUNet(g, config, { sample, timestep, reference: { fg, bg, mask }, hints }, { settings: attentionSettings(settings, lora.ranks), loraBlocks: lora.loraBlocks });
  g.output('out_sample', out);
  return g;
}

/** The sketch encoder graph: sketch [B,3,8h,8w] → hint_0…hint_n; params under control_encoder. */
export function buildSketchEncoderGraph(config: UNetConfig, batch: number, height: number, width: number, sketchChannels = 3): Graph {
  const g = createGraph('colorize-sketch-encoder');
  const s = SKETCH_ENCODER_SCALE;
  const sketch = g.input('sketch', 'f32', [batch, sketchChannels, height * s, width * s]);
  const hints = g.within('control_encoder', () => sketchEncoder(sketch, config.blockOutChannels));
  const want = hintShapes(config, batch, height, width);
  hints.forEach((t, k) => {
    if (t.shape.join(',') !== want[k].join(',')) throw new Error(`sketch encoder: hint ${k} is [${t.shape.join(',')}] but the UNet needs [${want[k].join(',')}]`);
    g.output(`hint_${k}`, t);
  });
  return g;
}

/** The first attention of each UNet part, as a diffusers module path. */
function firstAttention(config: UNetConfig, part: UNetPart): string | undefined {
  if (part === 'mid') return 'mid_block.attentions.0';
  const levels = part === 'down' ? config.down : config.up;
  const i = levels.findIndex((l) => l.attention);
  return i < 0 ? undefined : `${part}_blocks.${i}.attentions.0`;
}

/** Reads where the LoRA sits (which parts have attn2 LoRA keys) and each projection's rank from the weights. */
export function loraLayoutFromWeights(store: WeightStore, config: UNetConfig): LoraLayout {
  const loraBlocks = (['down', 'mid', 'up'] as const).filter((part) => {
    const a = firstAttention(config, part);
    return a !== undefined && ['fg', 'bg'].some((br) => store.get(`${a}.transformer_blocks.0.attn2.to_q.lora_down_${br}.weight`));
  });
  const ranks: LoraRankFn = (linear: string, branch: LoraBranch) => {
    const key = `${linear}.lora_down_${branch}.weight`;
    const p = store.get(key);
    if (!p) throw new Error(`missing LoRA weight "${key}": this mode needs the ${branch === 'fg' ? 'foreground' : 'background'} LoRA (use mode vanilla for a model without it)`);
    return p.shape[0];
  };
  return { loraBlocks, ranks };
}

/** The two weight views of a ColorizeDiffusion single file (or a diffusers-keyed file with control_encoder.* keys). */
export function colorizeDiffusionWeights(reader: SafetensorsReader, config: UNetConfig): { unet: WeightStore; sketchEncoder: WeightStore } {
  if (![...reader.tensors.keys()].some((k) => k.startsWith(SKETCH_ENCODER_PREFIX))) {
    throw new Error(`${reader.path} has no sketch encoder (no "${SKETCH_ENCODER_PREFIX}*" keys): it is not a ColorizeDiffusion checkpoint`);
  }
  return { unet: unetWeights(reader, config).store, sketchEncoder: safetensorsWeights(reader) };
}

export interface ColorizeDiffusionModel {
  readonly config: UNetConfig;
  readonly settings: ColorizeSettings;
  readonly lora: LoraLayout;
  /** sketches [B,3,8h,8w] → hints (one Float32Array per hint, batch B). */
  encodeSketch(batch: number, height: number, width: number, sketch: Float32Array): Promise<Float32Array[]>;
  /** One UNet call; feeds by graph input name. */
  unet(shapes: ColorizeUNetShapes, feeds: Record<string, Float32Array>): Promise<Float32Array>;
  release(): Promise<void>;
}

/** Binds weights; graphs compile on first use for each size (and come from the disk cache after that). */
export function colorizeDiffusionModel(
  config: UNetConfig,
  weights: { unet: WeightStore; sketchEncoder: WeightStore },
  settings: ColorizeSettings,
  opts: CompileOptions & { lora?: LoraLayout } = {},
): ColorizeDiffusionModel {
  checkSplitUNetConfig(config);
  const lora = opts.lora ?? loraLayoutFromWeights(weights.unet, config);
  const flags = modeFlags(settings.mode);
  if ((flags.fgLora || flags.bgLora) && lora.loraBlocks.length === 0) {
    throw new Error(`mode ${settings.mode} needs the split LoRA weights (attn2.to_q.lora_down_fg.weight …), but the UNet weights have none; use mode vanilla`);
  }
  const sketchEncoders = compiledModels(weights.sketchEncoder, opts);
  const unets = compiledModels(weights.unet, opts);
  return {
    config, settings, lora,
    async encodeSketch(batch, height, width, sketch) {
      const m = await sketchEncoders.get(`${batch}:${height}x${width}`, () => buildSketchEncoderGraph(config, batch, height, width));
      const out = await m.run({ sketch });
      return hintShapes(config, batch, height, width).map((_, k) => out[`hint_${k}`].data as Float32Array);
    },
    async unet(shapes, feeds) {
      const key = `${shapes.batch}:${shapes.height}x${shapes.width}:${shapes.fgTokens}:${shapes.bgTokens}`;
      const m = await unets.get(key, () => buildColorizeUNetGraph(config, shapes, settings, lora));
      return (await m.run(feeds)).out_sample.data as Float32Array;
    },
    async release() {
      await sketchEncoders.release();
      await unets.release();
    },
  };
}
