// diffusers UNet2DConditionModel (and SDRO's UNet2DDobuleConditionModel) assembled from the blocks,
// with diffusers' parameter names, following UNet2DConditionModel.forward (v0.21):
//   emb = time_embedding(time_proj(t)) [+ add_embedding(text_embeds ‖ add_time_proj(time_ids))]
//   h = conv_in(sample) [+ controlnet_cond_embedding(blueprint)]
//   down blocks (skips collected) [+ T2I-Adapter feature i inside level i] → [skips += ControlNet down
//   residuals] → mid [+ adapter feature] [+ mid residual] → up blocks (consuming skips) → conv_norm_out →
//   SiLU → conv_out.
// T2I-Adapter features follow v0.21's `down_block_additional_residuals` without a mid residual (later
// versions: `down_intrablock_additional_residuals`): feature i goes to down level i while features remain —
// a CrossAttnDownBlock2D adds it to the output of its LAST resnet+attention pair, before that skip is
// recorded and before the downsampler; a DownBlock2D gets `sample += feature` after the whole block (after
// its downsampler when it has one), and since that in-place add hits the tensor that is also the block's
// last skip state, the skip carries the feature too. One feature more than levels whose shape equals the
// mid block's output is added after the mid block (T2I-Adapter-XL).
import type { Graph, Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import * as nn from '../../graph/nn.ts';
import type { UNetConfig } from './config.ts';
import { timestepEmbedding, timestepProjection } from './timestepEmbedding.ts';
import { conditioningEmbedding, conditioningScale } from './conditioningEmbedding.ts';
import { downBlock } from './downBlock.ts';
import { midBlock } from './midBlock.ts';
import { upBlock } from './upBlock.ts';

export interface UNetInputs {
  /** Latents [B, in_channels, h, w]. */
  sample: Tensor;
  /** Per-sample timesteps [B], float. */
  timestep: Tensor;
  /** [B, L, cross_attention_dim]. */
  encoderHiddenStates: Tensor;
  /** SDRO blueprint [B, conditioning_channels, h·s, w·s] in [0,1] (s = 2^(stages)). */
  blueprint?: Tensor;
  /** ControlNet residuals, one per skip state (see controlResidualShapes), added the diffusers way. */
  downResiduals?: readonly Tensor[];
  midResidual?: Tensor;
  /** T2I-Adapter features, already scaled (see adapterResidualShapes for where each goes). */
  adapterFeatures?: readonly Tensor[];
  /** SDXL "text_time": pooled text embedding [B, D] and micro-conditioning ids [B, 6]. */
  textEmbeds?: Tensor;
  timeIds?: Tensor;
  /**
   * Step caching (DeepCache): 'produce' builds the whole UNet and also returns the input of the last
   * (shallowest) up block as `deepFeatures` (with an SDRO UNet's blueprint embedding: see
   * deepFeatureShape); { features } builds only the shallow path — stem, the first down level's layers
   * and the last up block — on those features from an earlier step (and takes no blueprint).
   */
  deepCache?: 'produce' | { features: Tensor };
  /**
   * With deepCache: how many of the last up block's layers the cached features already went through
   * (0, DeepCache's branch: its input). More reuses more and leaves a shallow step less to recompute (the
   * first down level's layers whose skips the remaining layers take, and those layers); at most its
   * layers − 1. Default 0.
   */
  cachedUpLayers?: number;
}

export interface TimeEmbeddings {
  /** time_proj output [B, proj]. */
  proj: Tensor;
  /** time_embedding output [B, embed]. */
  temb: Tensor;
  /** add_embedding output (SDXL). */
  added?: Tensor;
  /** What the resnets receive: temb (+ added). */
  emb: Tensor;
}

export function unetTimeEmbedding(config: UNetConfig, timestep: Tensor, textEmbeds?: Tensor, timeIds?: Tensor): TimeEmbeddings {
  const g = timestep.graph;
  const t = config.time;
  const proj = timestepProjection(timestep, t.projDim, t.flipSinToCos, t.freqShift);
  const temb = g.within('time_embedding', () => timestepEmbedding(proj, t.projDim, t.embedDim));
  if (!config.addition) return { proj, temb, emb: temb };
  const a = config.addition;
  if (!textEmbeds || !timeIds) throw new Error('UNet: this SDXL-style config (addition_embed_type "text_time") needs text_embeds and time_ids inputs');
  const b = timestep.shape[0];
  expectShape('text_embeds', textEmbeds, [b, a.textEmbedDim]);
  expectShape('time_ids', timeIds, [b, a.timeIds]);
  const timeProj = timestepProjection(op.reshape(timeIds, [b * a.timeIds]), a.timeEmbedDim, t.flipSinToCos, t.freqShift);
  const addIn = op.concat([textEmbeds, op.reshape(timeProj, [b, a.timeIds * a.timeEmbedDim])], 1);
  const added = g.within('add_embedding', () => timestepEmbedding(addIn, a.projectionInputDim, t.embedDim));
  return { proj, temb, added, emb: op.add(temb, added) };
}

/** conv_in, plus the SDRO blueprint embedding when the config has one. */
export function unetStem(config: UNetConfig, sample: Tensor, blueprint?: Tensor, embeddedBlueprint?: Tensor): { convIn: Tensor; condEmbedding?: Tensor; out: Tensor } {
  const g = sample.graph;
  const x = config.centerInputSample ? op.sub(op.mul(sample, 2), 1) : sample;
  const convIn = nn.conv2d(x, 'conv_in', config.inChannels, config.blockOutChannels[0], config.convInKernel);
  if (!config.conditioning) return { convIn, out: convIn };
  if (!blueprint && !embeddedBlueprint) throw new Error(`UNet: ${config.className} needs a blueprint input (conditioning image)`);
  const c = config.conditioning;
  const condEmbedding = embeddedBlueprint ?? g.within('controlnet_cond_embedding', () => conditioningEmbedding(blueprint!, c.embeddingOutChannels, config.blockOutChannels[0]));
  if (condEmbedding.shape.join(',') !== convIn.shape.join(',')) {
    const s = conditioningScale(c.embeddingOutChannels);
    throw new Error(`UNet: blueprint [${(blueprint ?? embeddedBlueprint)!.shape.join(',')}] embeds to [${condEmbedding.shape.join(',')}] but conv_in gives [${convIn.shape.join(',')}]; the blueprint must be ${s}× the latent size`);
  }
  return { convIn, condEmbedding, out: op.add(convIn, condEmbedding) };
}

/** conv_norm_out → SiLU → conv_out. */
export function unetHead(config: UNetConfig, x: Tensor): { norm: Tensor; out: Tensor } {
  const norm = nn.groupNorm(x, 'conv_norm_out', config.normNumGroups, config.normEps);
  return { norm, out: nn.conv2d(nn.silu(norm), 'conv_out', config.blockOutChannels[0], config.outChannels, config.convOutKernel) };
}

/** Spatial sizes of the down path: level i runs at sizes[i]; a stride-2 conv gives ceil(n/2). */
export function levelSizes(config: UNetConfig, height: number, width: number): [number, number][] {
  const sizes: [number, number][] = [[height, width]];
  for (const d of config.down) {
    const [h, w] = sizes[sizes.length - 1];
    if (d.downsample) sizes.push([Math.floor((h - 1) / 2) + 1, Math.floor((w - 1) / 2) + 1]);
  }
  return sizes;
}

/** Shapes of the ControlNet residuals a UNet takes: one per skip state (conv_in, each layer, each downsampler), then mid. */
export function controlResidualShapes(config: UNetConfig, batch: number, height: number, width: number): { down: number[][]; mid: number[] } {
  const sizes = levelSizes(config, height, width);
  const down: number[][] = [[batch, config.blockOutChannels[0], height, width]];
  config.down.forEach((d, i) => {
    for (let j = 0; j < d.layers; j++) down.push([batch, d.outChannels, ...sizes[i]]);
    if (d.downsample) down.push([batch, d.outChannels, ...sizes[i + 1]]);
  });
  const last = sizes[sizes.length - 1];
  return { down, mid: [batch, config.mid.channels, ...last] };
}

/**
 * Where T2I-Adapter features are added: `down[i]` is the shape of the state feature i is added to in
 * down level i (see the header), `mid` that of the mid block's output (where a further feature may go).
 */
export function adapterResidualShapes(config: UNetConfig, batch: number, height: number, width: number): { down: number[][]; mid: number[] } {
  let size: [number, number] = [height, width];
  const down = config.down.map((d) => {
    const inside = size;
    if (d.downsample) size = [Math.floor((size[0] - 1) / 2) + 1, Math.floor((size[1] - 1) / 2) + 1];
    const at = d.type === 'CrossAttnDownBlock2D' ? inside : size;
    return [batch, d.outChannels, ...at];
  });
  return { down, mid: [batch, config.mid.channels, ...size] };
}

/** Shapes of the first `count` adapter features a UNet takes: one per down level, then at most one after the mid block. */
export function adapterFeatureInputShapes(config: UNetConfig, batch: number, height: number, width: number, count: number): number[][] {
  const L = config.down.length;
  if (!Number.isInteger(count) || count < 0 || count > L + 1) throw new Error(`UNet: takes 0 to ${L + 1} T2I-Adapter features (${L} down levels + one after the mid block), got ${count}`);
  const s = adapterResidualShapes(config, batch, height, width);
  return [...s.down, s.mid].slice(0, count);
}

/**
 * Shape of the features step caching keeps: the state of the last up block after `cachedUpLayers` of its
 * layers, [B, C, h, w] with C the output channels of the up block before it (0 layers: its input,
 * upsampled back to the latent size) or of the last up block; with a blueprint embedding (SDRO), that
 * embedding follows on the channel axis, since it is the same at every step and costs a shallow step
 * several full-resolution convs.
 */
export function deepFeatureShape(config: UNetConfig, batch: number, height: number, width: number, cachedUpLayers = 0): number[] {
  const L = config.up.length;
  if (L < 2) throw new Error('UNet: step caching needs at least two up blocks');
  const last = config.up[L - 1];
  const skipsNeeded = last.layers;
  if (skipsNeeded > 1 + config.down[0].layers) {
    throw new Error(`UNet: step caching needs the last up block's ${skipsNeeded} skips to come from conv_in and the first down level (${1 + config.down[0].layers})`);
  }
  if (!Number.isInteger(cachedUpLayers) || cachedUpLayers < 0 || cachedUpLayers >= last.layers) {
    throw new Error(`UNet: step caching can keep the state after 0 to ${last.layers - 1} of the last up block's ${last.layers} layers, got ${cachedUpLayers}`);
  }
  const deep = cachedUpLayers === 0 ? config.up[L - 2].outChannels : last.outChannels;
  // An SDRO UNet's blueprint embedding is the same at every step: the cached state carries it too.
  return [batch, deep + (config.conditioning ? config.blockOutChannels[0] : 0), height, width];
}

export interface UNetOutputs {
  sample: Tensor;
  /** With deepCache 'produce': the features a shallow step reuses. */
  deepFeatures?: Tensor;
  /** Intermediate values named like diffusers' modules (time_proj, conv_in, down_blocks.0, …), for tracing. */
  trace: Record<string, Tensor>;
}

/** Builds the whole UNet on `g` (params get diffusers names under the graph's current scope). */
export function buildUNet(g: Graph, config: UNetConfig, inputs: UNetInputs): UNetOutputs {
  const { sample, timestep, encoderHiddenStates: ctx } = inputs;
  if (sample.graph !== g) throw new Error('buildUNet: sample belongs to another graph');
  const [b, cin, h, w] = sample.shape;
  if (sample.shape.length !== 4 || cin !== config.inChannels) throw new Error(`UNet: sample must be [B,${config.inChannels},h,w], got [${sample.shape.join(',')}]`);
  expectShape('timestep', timestep, [b]);
  if (ctx.shape.length !== 3 || ctx.shape[0] !== b || ctx.shape[2] !== config.crossAttentionDim) {
    throw new Error(`UNet: encoder_hidden_states must be [${b},L,${config.crossAttentionDim}], got [${ctx.shape.join(',')}]`);
  }
  const trace: Record<string, Tensor> = {};
  const time = unetTimeEmbedding(config, timestep, inputs.textEmbeds, inputs.timeIds);
  trace.time_proj = time.proj;
  trace.time_embedding = time.temb;
  if (time.added) trace.add_embedding = time.added;
  const emb = time.emb;

  const split = inputs.cachedUpLayers ?? 0;
  if (inputs.deepCache) {
    const state = deepFeatureShape(config, b, h, w, split); // also checks the config supports it
    if (typeof inputs.deepCache === 'object') expectShape('cached deep features', inputs.deepCache.features, state);
    if (inputs.downResiduals || inputs.midResidual || inputs.adapterFeatures?.length) throw new Error('UNet: step caching does not combine with ControlNet residuals or T2I-Adapter features');
  } else if (inputs.cachedUpLayers !== undefined) throw new Error('UNet: cachedUpLayers needs deepCache');
  const cached = typeof inputs.deepCache === 'object' ? splitCachedState(config, inputs.deepCache.features) : undefined;
  const stem = unetStem(config, sample, inputs.blueprint, cached?.blueprint);
  trace.conv_in = stem.convIn;
  if (stem.condEmbedding) trace.controlnet_cond_embedding = stem.condEmbedding;

  const features = inputs.adapterFeatures ?? [];
  if (features.length) {
    adapterFeatureInputShapes(config, b, h, w, features.length).forEach((shape, k) => expectShape(`T2I-Adapter feature ${k}`, features[k], shape));
  }

  if (cached) return buildShallowUNet(g, config, emb, ctx, stem.out, cached.deep, split, trace);

  let x = stem.out;
  let skips: Tensor[] = [x];
  config.down.forEach((level, i) => {
    const input = x;
    const f = features[i];
    // DownBlock2D: after the downsampler when there is one, else after the last layer (both before the skip is recorded).
    const extras = !f ? {} : level.type === 'CrossAttnDownBlock2D' || !level.downsample ? { residualAfterLayers: f } : { residualAfterDownsample: f };
    const r = g.within('down_blocks', () => g.within(i, () => downBlock(input, emb, ctx, level, config, extras)));
    x = r.out;
    skips.push(...r.skips);
    trace[`down_blocks.${i}`] = x;
  });

  const shapes = controlResidualShapes(config, b, h, w);
  if (inputs.downResiduals) {
    const res = inputs.downResiduals;
    if (res.length !== skips.length) throw new Error(`UNet: expected ${skips.length} ControlNet down residuals, got ${res.length}`);
    skips = skips.map((s, k) => {
      expectShape(`down residual ${k}`, res[k], shapes.down[k]);
      return op.add(s, res[k]);
    });
  }

  const midIn = x;
  x = g.within('mid_block', () => midBlock(midIn, emb, ctx, config));
  trace.mid_block = x; // as a forward hook on mid_block sees it: before the adapter feature and the ControlNet residual
  const midFeature = features[config.down.length];
  if (midFeature) x = op.add(x, midFeature);
  if (inputs.midResidual) {
    expectShape('mid residual', inputs.midResidual, shapes.mid);
    x = op.add(x, inputs.midResidual);
  }

  let deepFeatures: Tensor | undefined;
  config.up.forEach((level, i) => {
    const mine = skips.slice(skips.length - level.layers);
    skips = skips.slice(0, skips.length - level.layers);
    const size = level.upsample ? ([skips[skips.length - 1].shape[2], skips[skips.length - 1].shape[3]] as const) : undefined;
    const input = x;
    const block = (from: Tensor, range?: readonly [number, number]) => g.within('up_blocks', () => g.within(i, () => upBlock(from, range ? mine.slice(level.layers - range[1], level.layers - range[0]) : mine, emb, ctx, level, config, size, undefined, range)));
    if (inputs.deepCache === 'produce' && i === config.up.length - 1) {
      // The cached state sits after `split` layers: build the block in two parts around it.
      const deep = split === 0 ? input : block(input, [0, split]);
      x = split === 0 ? block(input) : block(deep, [split, level.layers]);
      deepFeatures = stem.condEmbedding ? op.concat([deep, stem.condEmbedding], 1) : deep;
    } else x = block(input);
    trace[`up_blocks.${i}`] = x;
  });

  const head = unetHead(config, x);
  trace.conv_norm_out = head.norm;
  trace.conv_out = head.out;
  return { sample: head.out, deepFeatures, trace };
}

/** The cached state as deepFeatureShape lays it out: deep features, then (SDRO) the blueprint embedding, on the channel axis. */
function splitCachedState(config: UNetConfig, state: Tensor): { deep: Tensor; blueprint?: Tensor } {
  if (!config.conditioning) return { deep: state };
  const c = state.shape[1];
  const e = config.blockOutChannels[0];
  return { deep: op.slice(state, [1], [0], [c - e]), blueprint: op.slice(state, [1], [c - e], [c]) };
}

/**
 * The shallow path of a cached step: the last up block's layers after the cached state (`split` of them
 * already in it), and the first down level's layers whose skips those take (none when only the layer
 * fed by conv_in remains).
 */
function buildShallowUNet(g: Graph, config: UNetConfig, emb: Tensor, ctx: Tensor, stemOut: Tensor, cached: Tensor, split: number, trace: Record<string, Tensor>): UNetOutputs {
  const L = config.up.length;
  const last = config.up[L - 1];
  const skipCount = last.layers - split; // conv_in's output, then the first down level's layers
  const downLayers = Math.min(skipCount - 1, config.down[0].layers);
  const first = downLayers > 0 ? g.within('down_blocks', () => g.within(0, () => downBlock(stemOut, emb, ctx, config.down[0], config, { onlyLayers: downLayers }))).skips : [];
  const skips = [stemOut, ...first].slice(0, skipCount);
  const x = g.within('up_blocks', () => g.within(L - 1, () => upBlock(cached, skips, emb, ctx, last, config, undefined, undefined, [split, last.layers])));
  trace[`up_blocks.${L - 1}`] = x;
  const head = unetHead(config, x);
  trace.conv_out = head.out;
  return { sample: head.out, trace };
}

function expectShape(what: string, t: Tensor, shape: readonly number[]): void {
  if (t.shape.join(',') !== shape.join(',')) throw new Error(`UNet: ${what} must be [${shape.join(',')}], got [${t.shape.join(',')}]`);
}
