// A diffusers UNet config.json (UNet2DConditionModel, or SDRO's UNet2DDobuleConditionModel), validated
// and normalised into per-level lists, the way diffusers' __init__ expands ints into tuples.
// Keys we do not model are ignored (diffusers adds keys over versions); keys we model but whose value
// would change the architecture in a way we do not implement are refused with a message naming them.
import { z } from 'zod';

export const UNET_CLASSES = ['UNet2DConditionModel', 'UNet2DDobuleConditionModel'] as const;
export const DOWN_BLOCK_TYPES = ['CrossAttnDownBlock2D', 'DownBlock2D'] as const;
export const UP_BLOCK_TYPES = ['CrossAttnUpBlock2D', 'UpBlock2D'] as const;

export type DownBlockType = (typeof DOWN_BLOCK_TYPES)[number];
export type UpBlockType = (typeof UP_BLOCK_TYPES)[number];

export class UNetConfigError extends Error {
  override name = 'UNetConfigError';
}

/**
 * Widths, channel and head counts: real models stay far below 2^16 (SDXL's widest is 2816). A bigger value
 * is a broken config, and would otherwise surface later as a byte-count mismatch or a huge allocation.
 */
const MAX_DIM = 65536;
const dim = z.number().int().positive().max(MAX_DIM, `must be at most ${MAX_DIM} (a broken config.json?)`);
const intOrList = z.union([dim, z.array(dim).min(1)]);

/** The config.json fields we read, with diffusers v0.21 defaults. */
const rawSchema = z.object({
  _class_name: z.string().optional(),
  sample_size: z.number().int().nullish(),
  in_channels: dim.default(4),
  out_channels: dim.default(4),
  center_input_sample: z.boolean().default(false),
  flip_sin_to_cos: z.boolean().default(true),
  freq_shift: z.number().default(0),
  down_block_types: z.array(z.string()).min(1).default(['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D']),
  mid_block_type: z.string().nullable().default('UNetMidBlock2DCrossAttn'),
  up_block_types: z.array(z.string()).min(1).default(['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D']),
  only_cross_attention: z.union([z.boolean(), z.array(z.boolean())]).default(false),
  block_out_channels: z.array(dim).min(1).default([320, 640, 1280, 1280]),
  layers_per_block: intOrList.default(2),
  downsample_padding: z.number().int().nonnegative().default(1),
  mid_block_scale_factor: z.number().default(1),
  act_fn: z.string().default('silu'),
  norm_num_groups: dim.nullable().default(32),
  norm_eps: z.number().positive().default(1e-5),
  cross_attention_dim: intOrList.default(1280),
  transformer_layers_per_block: intOrList.default(1),
  encoder_hid_dim: z.number().nullish(),
  encoder_hid_dim_type: z.string().nullish(),
  attention_head_dim: intOrList.default(8),
  num_attention_heads: intOrList.nullish(),
  dual_cross_attention: z.boolean().default(false),
  use_linear_projection: z.boolean().default(false),
  class_embed_type: z.string().nullish(),
  addition_embed_type: z.string().nullish(),
  addition_time_embed_dim: dim.nullish(),
  num_class_embeds: z.number().nullish(),
  upcast_attention: z.boolean().nullable().default(false), // SDXL ControlNet configs publish null
  resnet_time_scale_shift: z.string().default('default'),
  resnet_skip_time_act: z.boolean().default(false),
  resnet_out_scale_factor: z.number().default(1),
  time_embedding_type: z.string().default('positional'),
  time_embedding_dim: dim.nullish(),
  time_embedding_act_fn: z.string().nullish(),
  timestep_post_act: z.string().nullish(),
  time_cond_proj_dim: z.number().nullish(),
  conv_in_kernel: z.number().int().positive().default(3),
  conv_out_kernel: z.number().int().positive().default(3),
  projection_class_embeddings_input_dim: z.number().int().positive().nullish(),
  attention_type: z.string().default('default'),
  class_embeddings_concat: z.boolean().default(false),
  mid_block_only_cross_attention: z.boolean().nullish(),
  cross_attention_norm: z.string().nullish(),
  addition_embed_type_num_heads: z.number().nullish(),
  // SDRO (UNet2DDobuleConditionModel): ControlNet-style blueprint embedding added after conv_in.
  conditioning_channels: z.number().int().positive().nullish(),
  conditioning_embedding_out_channels: z.array(z.number().int().positive()).min(1).nullish(),
});

export type RawUNetConfig = z.input<typeof rawSchema>;

/** One down level, after diffusers' int → per-level expansion. */
export interface DownLevel {
  type: DownBlockType;
  inChannels: number;
  outChannels: number;
  layers: number;
  /** Cross-attention transformers after each resnet (CrossAttnDownBlock2D). */
  attention: boolean;
  transformerLayers: number;
  heads: number;
  crossAttentionDim: number;
  downsample: boolean;
}

export interface UpLevel {
  type: UpBlockType;
  /** Channels coming up from the previous (deeper) level. */
  prevOutChannels: number;
  /** Channels of the deepest skip of this level (the next-deeper down level's output). */
  inChannels: number;
  outChannels: number;
  /** Resnets in this block: layers_per_block + 1. */
  layers: number;
  attention: boolean;
  transformerLayers: number;
  heads: number;
  crossAttentionDim: number;
  upsample: boolean;
}

export interface UNetConfig {
  className: (typeof UNET_CLASSES)[number];
  inChannels: number;
  outChannels: number;
  centerInputSample: boolean;
  blockOutChannels: number[];
  down: DownLevel[];
  mid: { channels: number; transformerLayers: number; heads: number; crossAttentionDim: number; scaleFactor: number };
  up: UpLevel[];
  /** The encoder_hidden_states width every cross-attention reads. */
  crossAttentionDim: number;
  useLinearProjection: boolean;
  /** Computes attention scores in f32 for f16 models; our graphs compute in f32, so it changes nothing. */
  upcastAttention: boolean;
  normNumGroups: number;
  normEps: number;
  downsamplePadding: number;
  convInKernel: number;
  convOutKernel: number;
  time: { flipSinToCos: boolean; freqShift: number; projDim: number; embedDim: number };
  /** SDXL micro-conditioning ("text_time"): add_embedding(concat(text_embeds, proj(time_ids))). */
  addition: null | { type: 'text_time'; timeEmbedDim: number; projectionInputDim: number; textEmbedDim: number; timeIds: number };
  /** SDRO blueprint embedding (ControlNetConditioningEmbedding). */
  conditioning: null | { channels: number; embeddingOutChannels: number[] };
}

function perLevel(name: string, v: number | number[], n: number): number[] {
  if (typeof v === 'number') return Array(n).fill(v);
  if (v.length !== n) throw new UNetConfigError(`UNet config: ${name} has ${v.length} entries, but there are ${n} down blocks`);
  return v;
}

function unsupported(field: string, value: unknown, supported: string): never {
  throw new UNetConfigError(`unsupported UNet config: ${field} = ${JSON.stringify(value)} (inkflow supports ${supported})`);
}

/** Validates a parsed config.json object and expands it per level. Throws UNetConfigError. */
export function parseUNetConfig(json: unknown): UNetConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new UNetConfigError('UNet config must be a JSON object');
  const res = rawSchema.safeParse(json);
  if (!res.success) {
    const issues = res.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new UNetConfigError(`invalid UNet config: ${issues}`);
  }
  const c = res.data;
  const cls = c._class_name ?? 'UNet2DConditionModel';
  if (!(UNET_CLASSES as readonly string[]).includes(cls)) unsupported('_class_name', cls, UNET_CLASSES.join(' or '));

  // Architecture switches we do not implement: refuse rather than silently compute something else.
  if (c.act_fn !== 'silu') unsupported('act_fn', c.act_fn, '"silu"');
  if (c.time_embedding_type !== 'positional') unsupported('time_embedding_type', c.time_embedding_type, '"positional"');
  if (c.resnet_time_scale_shift !== 'default') unsupported('resnet_time_scale_shift', c.resnet_time_scale_shift, '"default"');
  if (c.resnet_skip_time_act) unsupported('resnet_skip_time_act', true, 'false');
  if (c.resnet_out_scale_factor !== 1) unsupported('resnet_out_scale_factor', c.resnet_out_scale_factor, '1.0');
  if (c.dual_cross_attention) unsupported('dual_cross_attention', true, 'false');
  if (c.only_cross_attention !== false && !(Array.isArray(c.only_cross_attention) && c.only_cross_attention.every((x) => !x))) {
    unsupported('only_cross_attention', c.only_cross_attention, 'false');
  }
  if (c.class_embed_type != null) unsupported('class_embed_type', c.class_embed_type, 'null');
  if (c.num_class_embeds != null) unsupported('num_class_embeds', c.num_class_embeds, 'null');
  if (c.class_embeddings_concat) unsupported('class_embeddings_concat', true, 'false');
  if (c.encoder_hid_dim_type != null || c.encoder_hid_dim != null) unsupported('encoder_hid_dim(_type)', c.encoder_hid_dim_type ?? c.encoder_hid_dim, 'null');
  if (c.time_cond_proj_dim != null) unsupported('time_cond_proj_dim', c.time_cond_proj_dim, 'null');
  if (c.time_embedding_act_fn != null) unsupported('time_embedding_act_fn', c.time_embedding_act_fn, 'null');
  if (c.timestep_post_act != null) unsupported('timestep_post_act', c.timestep_post_act, 'null');
  if (c.attention_type !== 'default') unsupported('attention_type', c.attention_type, '"default"');
  if (c.cross_attention_norm != null) unsupported('cross_attention_norm', c.cross_attention_norm, 'null');
  if (c.mid_block_type !== 'UNetMidBlock2DCrossAttn') unsupported('mid_block_type', c.mid_block_type, '"UNetMidBlock2DCrossAttn"');
  if (c.norm_num_groups == null) unsupported('norm_num_groups', null, 'an integer');
  if (c.addition_embed_type != null && c.addition_embed_type !== 'text_time') unsupported('addition_embed_type', c.addition_embed_type, 'null or "text_time"');
  if (c.conv_in_kernel % 2 !== 1) unsupported('conv_in_kernel', c.conv_in_kernel, 'odd kernels');
  if (c.conv_out_kernel % 2 !== 1) unsupported('conv_out_kernel', c.conv_out_kernel, 'odd kernels');

  const n = c.block_out_channels.length;
  if (c.down_block_types.length !== n) throw new UNetConfigError(`UNet config: down_block_types has ${c.down_block_types.length} entries but block_out_channels has ${n}`);
  if (c.up_block_types.length !== n) throw new UNetConfigError(`UNet config: up_block_types has ${c.up_block_types.length} entries but down_block_types has ${n}`);
  c.down_block_types.forEach((t, i) => {
    if (!(DOWN_BLOCK_TYPES as readonly string[]).includes(t)) unsupported(`down_block_types[${i}]`, t, DOWN_BLOCK_TYPES.join(', '));
  });
  c.up_block_types.forEach((t, i) => {
    if (!(UP_BLOCK_TYPES as readonly string[]).includes(t)) unsupported(`up_block_types[${i}]`, t, UP_BLOCK_TYPES.join(', '));
  });

  // diffusers quirk: with num_attention_heads null, attention_head_dim is the number of HEADS.
  const heads = perLevel('num_attention_heads', c.num_attention_heads ?? c.attention_head_dim, n);
  const layers = perLevel('layers_per_block', c.layers_per_block, n);
  const tLayers = perLevel('transformer_layers_per_block', c.transformer_layers_per_block, n);
  const crossDims = perLevel('cross_attention_dim', c.cross_attention_dim, n);
  if (crossDims.some((d) => d !== crossDims[0])) unsupported('cross_attention_dim', c.cross_attention_dim, 'one width for all levels');
  const groups = c.norm_num_groups;
  for (const ch of c.block_out_channels) {
    if (ch % groups !== 0) throw new UNetConfigError(`UNet config: block_out_channels entry ${ch} is not divisible by norm_num_groups ${groups}`);
  }

  const bo = c.block_out_channels;
  const down: DownLevel[] = c.down_block_types.map((t, i) => {
    const attention = t === 'CrossAttnDownBlock2D';
    if (attention && bo[i] % heads[i] !== 0) throw new UNetConfigError(`UNet config: ${bo[i]} channels at level ${i} are not divisible into ${heads[i]} attention heads`);
    return {
      type: t as DownBlockType, inChannels: i === 0 ? bo[0] : bo[i - 1], outChannels: bo[i], layers: layers[i], attention,
      transformerLayers: tLayers[i], heads: heads[i], crossAttentionDim: crossDims[i], downsample: i < n - 1,
    };
  });
  const rbo = [...bo].reverse();
  const rHeads = [...heads].reverse();
  const rLayers = [...layers].reverse();
  const rTLayers = [...tLayers].reverse();
  const up: UpLevel[] = c.up_block_types.map((t, i) => {
    const attention = t === 'CrossAttnUpBlock2D';
    if (attention && rbo[i] % rHeads[i] !== 0) throw new UNetConfigError(`UNet config: ${rbo[i]} channels at up level ${i} are not divisible into ${rHeads[i]} attention heads`);
    return {
      type: t as UpBlockType, prevOutChannels: i === 0 ? rbo[0] : rbo[i - 1], inChannels: rbo[Math.min(i + 1, n - 1)], outChannels: rbo[i],
      layers: rLayers[i] + 1, attention, transformerLayers: rTLayers[i], heads: rHeads[i], crossAttentionDim: crossDims[n - 1 - i], upsample: i < n - 1,
    };
  });
  if (bo[n - 1] % heads[n - 1] !== 0) throw new UNetConfigError(`UNet config: mid block's ${bo[n - 1]} channels are not divisible into ${heads[n - 1]} heads`);

  const projDim = bo[0];
  const embedDim = c.time_embedding_dim ?? bo[0] * 4;
  let addition: UNetConfig['addition'] = null;
  if (c.addition_embed_type === 'text_time') {
    const timeEmbedDim = c.addition_time_embed_dim;
    const projectionInputDim = c.projection_class_embeddings_input_dim;
    if (timeEmbedDim == null) unsupported('addition_time_embed_dim', null, 'an integer with addition_embed_type "text_time"');
    if (projectionInputDim == null) unsupported('projection_class_embeddings_input_dim', null, 'an integer with addition_embed_type "text_time"');
    // SDXL micro-conditioning: original h, w, crop top, left, target h, w; the refiner's 5 (… aesthetic score) when
    // 6 leave no room for a pooled embedding (withTextEmbedDim re-splits once the pooled width is known).
    const timeIds = projectionInputDim - 6 * timeEmbedDim > 0 ? 6 : 5;
    const textEmbedDim = projectionInputDim - timeIds * timeEmbedDim;
    if (textEmbedDim <= 0) throw new UNetConfigError(`UNet config: projection_class_embeddings_input_dim ${projectionInputDim} leaves no room for text_embeds next to ${timeIds} time ids × ${timeEmbedDim}`);
    addition = { type: 'text_time', timeEmbedDim, projectionInputDim, textEmbedDim, timeIds };
  }

  let conditioning: UNetConfig['conditioning'] = null;
  if (cls === 'UNet2DDobuleConditionModel') {
    conditioning = { channels: c.conditioning_channels ?? 3, embeddingOutChannels: c.conditioning_embedding_out_channels ?? [16, 32, 96, 256] };
  } else if (c.conditioning_channels != null || c.conditioning_embedding_out_channels != null) {
    throw new UNetConfigError(`UNet config: conditioning_channels / conditioning_embedding_out_channels are only meaningful for UNet2DDobuleConditionModel, not ${cls}`);
  }

  return {
    className: cls as UNetConfig['className'],
    inChannels: c.in_channels,
    outChannels: c.out_channels,
    centerInputSample: c.center_input_sample,
    blockOutChannels: bo,
    down,
    mid: { channels: bo[n - 1], transformerLayers: tLayers[n - 1], heads: heads[n - 1], crossAttentionDim: crossDims[n - 1], scaleFactor: c.mid_block_scale_factor },
    up,
    crossAttentionDim: crossDims[0],
    useLinearProjection: c.use_linear_projection,
    upcastAttention: c.upcast_attention ?? false,
    normNumGroups: groups,
    normEps: c.norm_eps,
    downsamplePadding: c.downsample_padding,
    convInKernel: c.conv_in_kernel,
    convOutKernel: c.conv_out_kernel,
    time: { flipSinToCos: c.flip_sin_to_cos, freqShift: c.freq_shift, projDim, embedDim },
    addition,
    conditioning,
  };
}

/**
 * Re-splits an SDXL "text_time" projection input between the pooled text embedding and the time ids,
 * knowing the pooled width (the text encoder's projection_dim). The config alone cannot tell: SDXL base
 * takes 1280 + 6 × 256 = 2816 (size, crop, target size), the refiner 1280 + 5 × 256 = 2560 (size, crop,
 * aesthetic score), and 2560 − 6 × 256 = 1024 would also look plausible.
 */
export function withTextEmbedDim(config: UNetConfig, textEmbedDim: number): UNetConfig {
  const a = config.addition;
  if (!a) return config;
  const rest = a.projectionInputDim - textEmbedDim;
  if (!Number.isInteger(textEmbedDim) || textEmbedDim <= 0 || rest <= 0 || rest % a.timeEmbedDim !== 0) {
    throw new UNetConfigError(`UNet config: projection_class_embeddings_input_dim ${a.projectionInputDim} is not a pooled text embedding of ${textEmbedDim} plus time ids × ${a.timeEmbedDim}`);
  }
  return { ...config, addition: { ...a, textEmbedDim, timeIds: rest / a.timeEmbedDim } };
}

/** How many times the latent is halved on the way down (= upsamplers on the way up). */
export function downsampleFactor(config: UNetConfig): number {
  return 2 ** config.down.filter((d) => d.downsample).length;
}
