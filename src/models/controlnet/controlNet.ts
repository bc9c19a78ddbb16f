// diffusers ControlNetModel (v0.21 forward) on the IR, reusing the UNet's blocks:
//   emb = time_embedding(time_proj(t)) [+ SDXL add_embedding]
//   h = conv_in(sample) + controlnet_cond_embedding(hint)          (hint channels flipped for "bgr")
//   down blocks (skip states collected) → mid block
//   down_k = controlnet_down_blocks.k(skip_k), mid = controlnet_mid_block(mid)   (1×1 "zero convs")
//   scaled by conditioning_scale, or in guess mode by logspace(−1, 0, K+1)·scale (K = skip count; mid gets 1·scale)
//   global_pool_conditions: each residual becomes its spatial mean (broadcast back to full size here).
// The residuals are in the order UNetInputs.downResiduals takes them (models/unet/unet.ts).
import type { Graph, Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import * as nn from '../../graph/nn.ts';
import { unetTimeEmbedding } from '../unet/unet.ts';
import { conditioningEmbedding } from '../unet/conditioningEmbedding.ts';
import { downBlock } from '../unet/downBlock.ts';
import { midBlock } from '../unet/midBlock.ts';
import { hintScale, type ControlNetConfig } from './config.ts';

export interface ControlNetInputs {
  /** Latents [B, in_channels, h, w]. */
  sample: Tensor;
  /** Per-sample timesteps [B], float. */
  timestep: Tensor;
  /** [B, L, cross_attention_dim]. */
  encoderHiddenStates: Tensor;
  /** The hint image [B, conditioning_channels, h·s, w·s] (s = hintScale, 8 for SD), usually in [0, 1]. */
  cond: Tensor;
  /** conditioning_scale (ComfyUI "strength") per sample, [B] — a runtime input, so changing it never recompiles. */
  scale: Tensor;
  /** diffusers guess_mode: residuals scaled from 0.1 (shallowest) to 1.0 (mid). Changes the graph. */
  guessMode?: boolean;
  /** SDXL ControlNets ("text_time"). */
  textEmbeds?: Tensor;
  timeIds?: Tensor;
}

export interface ControlNetOutputs {
  /** One residual per UNet skip state (conv_in, every layer, every downsampler). */
  down: Tensor[];
  mid: Tensor;
  /** controlnet_cond_embedding(hint), for tracing. */
  condEmbedding: Tensor;
}

export class ControlNetShapeError extends Error {
  override name = 'ControlNetShapeError';
}

/**
 * torch.logspace(−1, 0, n) in float32 (torch evaluates 10^(start + step·i) for the first half and
 * 10^(end − step·(n−1−i)) for the second, then rounds to float).
 */
export function guessModeScales(n: number): Float32Array {
  const out = new Float32Array(n);
  if (n === 1) {
    out[0] = 0.1;
    return out;
  }
  const step = 1 / (n - 1);
  const half = Math.floor(n / 2);
  for (let i = 0; i < n; i++) out[i] = 10 ** (i < half ? -1 + step * i : -step * (n - 1 - i));
  return out;
}

function expectShape(what: string, t: Tensor, shape: readonly number[]): void {
  if (t.shape.join(',') !== shape.join(',')) throw new ControlNetShapeError(`ControlNet: ${what} must be [${shape.join(',')}], got [${t.shape.join(',')}]`);
}

/** Reverses the channel axis (controlnet_conditioning_channel_order "bgr"). */
function flipChannels(x: Tensor): Tensor {
  const c = x.shape[1];
  const parts: Tensor[] = [];
  for (let i = c - 1; i >= 0; i--) parts.push(op.slice(x, [1], [i], [i + 1]));
  return op.concat(parts, 1);
}

/** Builds the ControlNet on `g`; parameters get diffusers names under the graph's current scope. */
export function buildControlNet(g: Graph, config: ControlNetConfig, inputs: ControlNetInputs): ControlNetOutputs {
  const u = config.unet;
  const { sample, timestep, encoderHiddenStates: ctx, cond, scale } = inputs;
  if (sample.graph !== g) throw new ControlNetShapeError('buildControlNet: sample belongs to another graph');
  if (sample.shape.length !== 4 || sample.shape[1] !== u.inChannels) throw new ControlNetShapeError(`ControlNet: sample must be [B,${u.inChannels},h,w], got [${sample.shape.join(',')}]`);
  const [b, , h, w] = sample.shape;
  expectShape('timestep', timestep, [b]);
  expectShape('conditioning scale', scale, [b]);
  if (ctx.shape.length !== 3 || ctx.shape[0] !== b || ctx.shape[2] !== u.crossAttentionDim) {
    throw new ControlNetShapeError(`ControlNet: encoder_hidden_states must be [${b},L,${u.crossAttentionDim}], got [${ctx.shape.join(',')}]`);
  }
  const s = hintScale(config);
  if (cond.shape.length !== 4 || cond.shape[0] !== b || cond.shape[1] !== config.conditioningChannels || cond.shape[2] !== h * s || cond.shape[3] !== w * s) {
    throw new ControlNetShapeError(`ControlNet: the hint image must be [${b},${config.conditioningChannels},${h * s},${w * s}] (${s}× the latent [${h},${w}]), got [${cond.shape.join(',')}]`);
  }

  const emb = unetTimeEmbedding(u, timestep, inputs.textEmbeds, inputs.timeIds).emb;
  const convIn = nn.conv2d(sample, 'conv_in', u.inChannels, u.blockOutChannels[0], u.convInKernel);
  const hint = config.channelOrder === 'bgr' ? flipChannels(cond) : cond;
  const condEmbedding = g.within('controlnet_cond_embedding', () => conditioningEmbedding(hint, config.embeddingOutChannels, u.blockOutChannels[0]));

  let x = op.add(convIn, condEmbedding);
  const skips: Tensor[] = [x];
  u.down.forEach((level, i) => {
    const input = x;
    const r = g.within('down_blocks', () => g.within(i, () => downBlock(input, emb, ctx, level, u)));
    x = r.out;
    skips.push(...r.skips);
  });
  const midIn = x;
  x = g.within('mid_block', () => midBlock(midIn, emb, ctx, u));

  const zeroConv = (t: Tensor, name: string) => nn.conv2d(t, name, t.shape[1], t.shape[1], 1, { padding: 0 });
  let down = skips.map((t, k) => g.within('controlnet_down_blocks', () => zeroConv(t, String(k))));
  let mid = zeroConv(x, 'controlnet_mid_block');

  const perSample = op.reshape(scale, [b, 1, 1, 1]);
  if (inputs.guessMode && !config.globalPoolConditions) {
    const c = guessModeScales(down.length + 1);
    // torch: scales = logspace(...) · conditioning_scale, then residual · scales[k]; same rounding order.
    const factor = (k: number) => op.mul(perSample, op.scalar(perSample, c[k]));
    down = down.map((t, k) => op.mul(t, factor(k)));
    mid = op.mul(mid, factor(down.length));
  } else {
    down = down.map((t) => op.mul(t, perSample));
    mid = op.mul(mid, perSample);
  }
  if (config.globalPoolConditions) {
    const pool = (t: Tensor) => op.expand(op.reduceMean(t, [2, 3], true), t.shape);
    down = down.map(pool);
    mid = pool(mid);
  }
  return { down, mid, condEmbedding };
}
