// AutoencoderKL.decode as a graph: post_quant_conv → Decoder (mid block, up blocks with one more resnet
// than the encoder's per level, nearest ×2 upsamplers) → image. Scaling by 1/scaling_factor is the
// caller's job, as in diffusers.
import { type Graph, type Tensor, createGraph, fmtShape } from '../../graph/graph.ts';
import { conv2d, groupNorm, silu } from '../../graph/nn.ts';
import { type VaeConfig, VaeConfigError } from './config.ts';
import { VAE_NORM_EPS, vaeMidBlock, vaeResnet, vaeUpsample } from './blocks.ts';
import type { VaeGraphOptions } from './encoder.ts';

/** Decoder (the `decoder.` module) on z [B, latent, h, w] → [B, out_channels, h·f, w·f]. */
export function vaeDecoder(z: Tensor, cfg: VaeConfig, trace?: (name: string, t: Tensor) => void): Tensor {
  const g = z.graph;
  const groups = cfg.norm_num_groups;
  const rev = [...cfg.block_out_channels].reverse();
  return g.within('decoder', () => {
    let h = conv2d(z, 'conv_in', cfg.latent_channels, rev[0], 3);
    trace?.('decoder.conv_in', h);
    h = vaeMidBlock(h, 'mid_block', groups, cfg.mid_block_add_attention);
    trace?.('decoder.mid_block', h);
    rev.forEach((outC, i) => {
      g.within(`up_blocks.${i}`, () => {
        for (let j = 0; j <= cfg.layers_per_block; j++) h = vaeResnet(h, `resnets.${j}`, outC, groups);
        if (i < rev.length - 1) h = vaeUpsample(h, 'upsamplers.0.conv');
      });
      trace?.(`decoder.up_blocks.${i}`, h);
    });
    h = silu(groupNorm(h, 'conv_norm_out', groups, VAE_NORM_EPS));
    h = conv2d(h, 'conv_out', rev[rev.length - 1], cfg.out_channels, 3);
    trace?.('decoder.conv_out', h);
    return h;
  });
}

/** Graph with input `latents` [B, latent, h, w] and output `image`. */
export function vaeDecodeGraph(cfg: VaeConfig, latentShape: readonly number[], opts: VaeGraphOptions = {}): Graph {
  if (latentShape.length !== 4 || latentShape[1] !== cfg.latent_channels || latentShape.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new VaeConfigError(`VAE decode: latents must be [B, ${cfg.latent_channels}, h, w], got ${fmtShape(latentShape)}`);
  }
  const g = createGraph('vae_decode');
  const trace = opts.traces ? (name: string, t: Tensor) => g.output(`trace.${name}`, t) : undefined;
  let z = g.input('latents', 'f32', latentShape);
  if (cfg.use_post_quant_conv) z = conv2d(z, 'post_quant_conv', cfg.latent_channels, cfg.latent_channels, 1);
  trace?.('post_quant_conv', z);
  g.output('image', vaeDecoder(z, cfg, trace));
  return g;
}
