// A tiny ColorizeDiffusion model with deterministic random weights, for tests and examples: two levels,
// cross-attention in the first down and the last up level, LoRA (fg rank 4, bg rank ½·min(in, out)) on the
// up-path attn2, a sketch encoder with non-zero "zero" convs so the sketch matters.
import { numel, type Graph } from '../../graph/graph.ts';
import { memoryWeights, type WeightStore } from '../../graph/weights.ts';
import { parseUNetConfig, type UNetConfig } from '../unet/config.ts';
import { buildColorizeUNetGraph, buildSketchEncoderGraph, type LoraLayout } from './colorizeModel.ts';
import { defaultLoraRank } from './splitCrossAttention.ts';

export const TINY_COLORIZE_CONFIG = {
  _class_name: 'UNet2DConditionModel',
  block_out_channels: [32, 64],
  down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
  layers_per_block: 1,
  attention_head_dim: 2,
  cross_attention_dim: 24,
  use_linear_projection: true,
  norm_num_groups: 8,
};

export const TINY_LORA: LoraLayout = { loraBlocks: ['up'], loraAt: (p) => p.startsWith('up_blocks.'), ranks: defaultLoraRank };

export interface TinyWeights {
  config: UNetConfig;
  /** By our (diffusers) parameter names; sketch-encoder names start with control_encoder. */
  tensors: Record<string, Float32Array>;
  shapes: Record<string, number[]>;
  unet: WeightStore;
  sketchEncoder: WeightStore;
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296 - 0.5;
  };
}

/** `loraStd` 0 gives all-zero LoRA weights (every mode must then agree when bg tokens = fg tokens). */
export function tinyColorizeWeights(opts: { seed?: number; loraStd?: number } = {}): TinyWeights {
  const config = parseUNetConfig(TINY_COLORIZE_CONFIG);
  const loraStd = opts.loraStd ?? 0.3;
  const graphs: Graph[] = [
    buildColorizeUNetGraph(config, { batch: 1, height: 8, width: 8, tokens: 8 }, { mode: 'fig2fig' }, TINY_LORA),
    buildSketchEncoderGraph(config, 1, 8, 8),
  ];
  const r = rng(opts.seed ?? 3);
  const tensors: Record<string, Float32Array> = {};
  const shapes: Record<string, number[]> = {};
  for (const g of graphs) {
    for (const [name, id] of [...g.params].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const shape = [...g.values[id].shape];
      const isNormScale = /norm[^.]*\.weight$/.test(name) && shape.length === 1;
      const std = name.includes('.lora_') ? loraStd : 0.1;
      tensors[name] = Float32Array.from({ length: numel(shape) }, () => (isNormScale ? 1 : 0) + r() * 2 * Math.sqrt(3) * std);
      shapes[name] = shape;
    }
  }
  const pick = (enc: boolean) => {
    const names = Object.keys(tensors).filter((n) => n.startsWith('control_encoder.') === enc);
    return memoryWeights(Object.fromEntries(names.map((n) => [n, tensors[n]])), Object.fromEntries(names.map((n) => [n, shapes[n]])));
  };
  return { config, tensors, shapes, unet: pick(false), sketchEncoder: pick(true) };
}
