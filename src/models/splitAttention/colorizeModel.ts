// A ColorizeDiffusion model ready to run: the split UNet (one compiled graph per batch size and latent size)
// and the sketch encoder, bound to weights. Released checkpoints are LDM single files: UNet under
// `model.diffusion_model.` (LoRA keys like output_blocks.3.1.transformer_blocks.0.attn2.to_q.lora_down_fg.weight,
// which the UNet key map carries through unchanged) and the sketch encoder under `control_encoder.`.
import { createGraph, type Graph, type Tensor } from '../../graph/graph.ts';
import type { WeightStore } from '../../graph/weights.ts';
import { compiledModels } from '../../runtime/compiledModels.ts';
import type { CompileOptions } from '../../runtime/session.ts';
import type { SafetensorsReader } from '../../weights/safetensors.ts';
import { safetensorsWeights } from '../../weights/store.ts';
import { unetWeights } from '../unet/load.ts';
import type { UNetConfig } from '../unet/config.ts';
import { levelSizes } from '../unet/unet.ts';
import { buildSplitUNet, checkSplitUNetConfig, hintShapes, type UNetPart } from './splitUNet.ts';
import { splitCrossAttentionHook } from './splitTransformer.ts';
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
  /** Context tokens (256 OpenCLIP local tokens in vanilla; see modes.ts for the split modes). */
  tokens: number;
}

export interface ColorizeSettings {
  mode: ColorizeMode;
  /** ts_s (default 0.05). */
  sketchThreshold?: number;
  /** Reference strength (the original's reference_scale): one for every attn2, or one per attn2 in the
   * original's module order (input blocks, middle, output blocks; the demo's "accurate" sliders); 1 by default. */
  referenceScale?: number | readonly number[];
  fgScale?: number;
  bgScale?: number;
  mergeScale?: number;
}

export const DEFAULT_SKETCH_THRESHOLD = 0.05;

/** What the weights say about the LoRA: which attn2 modules carry it and its ranks. */
export interface LoraLayout {
  /** UNet parts with any LoRA (for messages). */
  loraBlocks: UNetPart[];
  /** True when the attn2 at this diffusers path has LoRA weights. */
  loraAt: (attn2: string) => boolean;
  /** Query width of the attn2 at a path (from its to_q weight), when known. */
  channelsAt?: (attn2: string) => number | undefined;
  ranks: LoraRankFn;
}

/** Every attn2 of the UNet as a diffusers path, in the original's module order (torch_dfs over the LDM UNet). */
export function attentionPaths(config: UNetConfig): string[] {
  const out: string[] = [];
  const blocks = (a: string, depth: number) => { for (let d = 0; d < depth; d++) out.push(`${a}.transformer_blocks.${d}.attn2`); };
  config.down.forEach((l, i) => { if (l.attention) for (let j = 0; j < l.layers; j++) blocks(`down_blocks.${i}.attentions.${j}`, l.transformerLayers); });
  blocks('mid_block.attentions.0', config.mid.transformerLayers);
  config.up.forEach((l, i) => { if (l.attention) for (let j = 0; j < l.layers; j++) blocks(`up_blocks.${i}.attentions.${j}`, l.transformerLayers); });
  return out;
}

function attentionSettings(config: UNetConfig, s: ColorizeSettings, lora: LoraLayout, trace?: SplitAttentionSettings['trace']): SplitAttentionSettings {
  let referenceScale: SplitAttentionSettings['referenceScale'];
  if (typeof s.referenceScale === 'number' || s.referenceScale === undefined) referenceScale = s.referenceScale;
  else {
    const paths = attentionPaths(config);
    const scales = s.referenceScale;
    if (scales.length !== paths.length) throw new Error(`referenceScale: ${scales.length} values for ${paths.length} cross-attentions`);
    referenceScale = (p: string) => scales[paths.indexOf(p)];
  }
  return {
    flags: modeFlags(s.mode), threshold: s.sketchThreshold ?? DEFAULT_SKETCH_THRESHOLD, ranks: lora.ranks, loraAt: lora.loraAt,
    referenceScale, fgScale: s.fgScale, bgScale: s.bgScale, mergeScale: s.mergeScale, trace,
  };
}

/** Graph output name of a traced tensor. */
export const traceOutputName = (attn2: string, kind: string) => `trace:${attn2}:${kind}`;

/**
 * The UNet graph. Inputs: sample, timestep [B], context [B,L,D], for split modes sketch_mask [B,1,h,w];
 * hint_0…hint_n. Output out_sample, plus `trace:<attn2>:<kind>` for every traced attn2 in `trace`.
 */
export function buildColorizeUNetGraph(config: UNetConfig, shapes: ColorizeUNetShapes, settings: ColorizeSettings, lora: LoraLayout, trace: readonly string[] = []): Graph {
  checkSplitUNetConfig(config);
  const { batch: b, height: h, width: w } = shapes;
  const g = createGraph('colorize-unet');
  const sample = g.input('sample', 'f32', [b, config.inChannels, h, w]);
  const timestep = g.input('timestep', 'f32', [b]);
  const context = g.input('context', 'f32', [b, shapes.tokens, config.crossAttentionDim]);
  const split = modeFlags(settings.mode).split;
  const mask = split ? g.input('sketch_mask', 'f32', [b, 1, h, w]) : undefined;
  const hints = hintShapes(config, b, h, w).map((s, k) => g.input(`hint_${k}`, 'f32', s));
  const sink = trace.length ? { at: new Set(trace), sink: (p: string, kind: string, t: Tensor) => g.output(traceOutputName(p, kind), t) } : undefined;
  const out = buildSplitUNet(g, config, { sample, timestep, reference: { context, mask }, hints }, { settings: attentionSettings(config, settings, lora, sink) });
  g.output('out_sample', out);
  return g;
}

/** Heads of the attn2 at a diffusers path (its level's). */
function headsAt(config: UNetConfig, attn2: string): number {
  const m = /^(down_blocks|up_blocks)\.(\d+)\./.exec(attn2);
  if (attn2.startsWith('mid_block.')) return config.mid.heads;
  if (!m) throw new Error(`not a UNet attn2 path: ${attn2}`);
  return (m[1] === 'down_blocks' ? config.down : config.up)[Number(m[2])].heads;
}

/** The feature-map size of the attn2 at a diffusers path for a latent of height×width. */
export function attentionMapSize(config: UNetConfig, attn2: string, height: number, width: number): [number, number] {
  const sizes = levelSizes(config, height, width);
  if (attn2.startsWith('mid_block.')) return sizes[sizes.length - 1];
  const m = /^(down_blocks|up_blocks)\.(\d+)\./.exec(attn2);
  if (!m) throw new Error(`not a UNet attn2 path: ${attn2}`);
  const level = m[1] === 'down_blocks' ? Number(m[2]) : config.up.length - 1 - Number(m[2]);
  return sizes[Math.min(level, sizes.length - 1)];
}

export interface AttentionProbeShapes {
  batch: number;
  /** Feature map of the attention. */
  mapHeight: number;
  mapWidth: number;
  /** Latent size (the sketch mask's). */
  height: number;
  width: number;
  tokens: number;
}

/**
 * One attn2 of the UNet on its own, for checking a module against recorded inputs: inputs x [B, h·w, C]
 * (the norm2 output), context [B, L, D], sketch_mask [B,1,H,W] (split modes); outputs `trace:<attn2>:<kind>`.
 */
export function buildAttentionProbeGraph(config: UNetConfig, attn2: string, shapes: AttentionProbeShapes, settings: ColorizeSettings, lora: LoraLayout): Graph {
  const g = createGraph('colorize-attention-probe');
  const s = shapes;
  const channels = lora.channelsAt?.(attn2) ?? config.crossAttentionDim;
  const x = g.input('x', 'f32', [s.batch, s.mapHeight * s.mapWidth, channels]);
  const context = g.input('context', 'f32', [s.batch, s.tokens, config.crossAttentionDim]);
  const mask = modeFlags(settings.mode).split ? g.input('sketch_mask', 'f32', [s.batch, 1, s.height, s.width]) : undefined;
  const sink = { at: new Set([attn2]), sink: (p: string, kind: string, t: Tensor) => g.output(traceOutputName(p, kind), t) };
  const hook = splitCrossAttentionHook({ context, mask }, attentionSettings(config, settings, lora, sink));
  const parts = attn2.split('.');
  const build = (k: number): void => {
    if (k === parts.length) {
      hook(s.mapHeight, s.mapWidth)(x, context, headsAt(config, attn2));
      return;
    }
    g.within(parts[k], () => build(k + 1));
  };
  build(0);
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

/** Reads which attn2 modules carry LoRA and each projection's rank from the weights. */
export function loraLayoutFromWeights(store: WeightStore, config: UNetConfig): LoraLayout {
  const has = new Map<string, boolean>();
  const loraAt = (attn2: string) => {
    let v = has.get(attn2);
    if (v === undefined) {
      v = ['fg', 'bg'].some((br) => store.get(`${attn2}.to_q.lora_down_${br}.weight`) !== undefined);
      has.set(attn2, v);
    }
    return v;
  };
  const attentions: [UNetPart, string][] = [];
  config.down.forEach((l, i) => { if (l.attention) for (let j = 0; j < l.layers; j++) attentions.push(['down', `down_blocks.${i}.attentions.${j}`]); });
  attentions.push(['mid', 'mid_block.attentions.0']);
  config.up.forEach((l, i) => { if (l.attention) for (let j = 0; j < l.layers; j++) attentions.push(['up', `up_blocks.${i}.attentions.${j}`]); });
  const loraBlocks = (['down', 'mid', 'up'] as const).filter((part) => attentions.some(([p, a]) => p === part && loraAt(`${a}.transformer_blocks.0.attn2`)));
  const ranks: LoraRankFn = (linear: string, branch: LoraBranch) => {
    const key = `${linear}.lora_down_${branch}.weight`;
    const p = store.get(key);
    if (!p) throw new Error(`missing LoRA weight "${key}": this mode needs the ${branch === 'fg' ? 'foreground' : 'background'} LoRA (use mode vanilla for a model without it)`);
    return p.shape[0];
  };
  const channelsAt = (attn2: string) => store.get(`${attn2}.to_q.weight`)?.shape[0];
  return { loraBlocks, loraAt, ranks, channelsAt };
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
  /** One attn2 on its own (buildAttentionProbeGraph): feeds x, context, sketch_mask; returns its traces by kind. */
  probeAttention(attn2: string, shapes: AttentionProbeShapes, feeds: Record<string, Float32Array>): Promise<Record<string, Float32Array>>;
  /** One UNet call; feeds by graph input name; `trace` lists attn2 paths whose intermediate tensors to return. */
  unet(shapes: ColorizeUNetShapes, feeds: Record<string, Float32Array>, trace?: readonly string[]): Promise<{ out: Float32Array; traces: Record<string, Float32Array> }>;
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
    async probeAttention(attn2, shapes, feeds) {
      const key = `probe:${attn2}:${JSON.stringify(shapes)}`;
      const m = await unets.get(key, () => buildAttentionProbeGraph(config, attn2, shapes, settings, lora));
      const res = await m.run(feeds);
      const prefix = traceOutputName(attn2, '');
      return Object.fromEntries(Object.entries(res).map(([n, t]) => [n.slice(prefix.length), t.data as Float32Array]));
    },
    async unet(shapes, feeds, trace = []) {
      const key = `${shapes.batch}:${shapes.height}x${shapes.width}:${shapes.tokens}:${trace.join(',')}`;
      const m = await unets.get(key, () => buildColorizeUNetGraph(config, shapes, settings, lora, trace));
      const res = await m.run(feeds);
      const traces: Record<string, Float32Array> = {};
      for (const [name, t] of Object.entries(res)) if (name.startsWith('trace:')) traces[name] = t.data as Float32Array;
      return { out: res.out_sample.data as Float32Array, traces };
    },
    async release() {
      await sketchEncoders.release();
      await unets.release();
    },
  };
}
