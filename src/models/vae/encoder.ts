// AutoencoderKL.encode as a graph: Encoder → quant_conv gives the moments (mean ‖ logvar along channels);
// the DiagonalGaussianDistribution's logvar is clamped to [-30, 20] as diffusers does.
import { type Graph, type Tensor, createGraph, fmtShape } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import { conv2d, groupNorm, silu } from '../../graph/nn.ts';
import { type VaeConfig, VaeConfigError, vaeScaleFactor } from './config.ts';
import { VAE_NORM_EPS, vaeDownsample, vaeMidBlock, vaeResnet } from './blocks.ts';

export interface VaeGraphOptions {
  /** Adds `trace.<module>` outputs (the diffusers module names of the golden traces). */
  traces?: boolean;
}

/** Encoder (the `encoder.` module) on `x` [B, in_channels, H, W] → [B, 2·latent, H/f, W/f]. */
export function vaeEncoder(x: Tensor, cfg: VaeConfig, trace?: (name: string, t: Tensor) => void): Tensor {
  const g = x.graph;
  const groups = cfg.norm_num_groups;
  const chans = cfg.block_out_channels;
  return g.within('encoder', () => {
    let h = conv2d(x, 'conv_in', cfg.in_channels, chans[0], 3);
    trace?.('encoder.conv_in', h);
    chans.forEach((outC, i) => {
      g.within(`down_blocks.${i}`, () => {
        for (let j = 0; j < cfg.layers_per_block; j++) h = vaeResnet(h, `resnets.${j}`, outC, groups);
        if (i < chans.length - 1) h = vaeDownsample(h, 'downsamplers.0.conv');
      });
      trace?.(`encoder.down_blocks.${i}`, h);
    });
    h = vaeMidBlock(h, 'mid_block', groups, cfg.mid_block_add_attention);
    trace?.('encoder.mid_block', h);
    h = silu(groupNorm(h, 'conv_norm_out', groups, VAE_NORM_EPS));
    h = conv2d(h, 'conv_out', chans[chans.length - 1], 2 * cfg.latent_channels, 3);
    trace?.('encoder.conv_out', h);
    return h;
  });
}

export function checkImageShape(cfg: VaeConfig, shape: readonly number[], what: string): void {
  const f = vaeScaleFactor(cfg);
  if (shape.length !== 4 || shape[1] !== cfg.in_channels || shape[2] % f !== 0 || shape[3] % f !== 0 || shape[2] <= 0 || shape[3] <= 0) {
    throw new VaeConfigError(`${what}: image must be [B, ${cfg.in_channels}, H, W] with H and W multiples of ${f}, got ${fmtShape(shape)}`);
  }
}

/** Graph with input `image` and outputs `moments`, `latent_mean`, `latent_logvar`. */
export function vaeEncodeGraph(cfg: VaeConfig, imageShape: readonly number[], opts: VaeGraphOptions = {}): Graph {
  checkImageShape(cfg, imageShape, 'VAE encode');
  const g = createGraph('vae_encode');
  const x = g.input('image', 'f32', imageShape);
  const trace = opts.traces ? (name: string, t: Tensor) => g.output(`trace.${name}`, t) : undefined;
  let moments = vaeEncoder(x, cfg, trace);
  const m = 2 * cfg.latent_channels;
  if (cfg.use_quant_conv) moments = conv2d(moments, 'quant_conv', m, m, 1);
  trace?.('quant_conv', moments);
  const l = cfg.latent_channels;
  const mean = op.slice(moments, [1], [0], [l]);
  const logvar = op.minimum(op.maximum(op.slice(moments, [1], [l], [m]), -30), 20);
  g.output('moments', moments);
  g.output('latent_mean', mean);
  g.output('latent_logvar', logvar);
  return g;
}
