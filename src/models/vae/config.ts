// AutoencoderKL configuration, read from a diffusers `vae/config.json` (the keys diffusers' AutoencoderKL
// accepts; unknown keys are ignored as `from_config` does) or inferred from checkpoint tensor shapes when a
// single-file checkpoint carries no config.
import { z } from 'zod';

export class VaeConfigError extends Error {
  override name = 'VaeConfigError';
}

const positiveInt = z.number().int().positive();

export const vaeConfigSchema = z.object({
  in_channels: positiveInt.default(3),
  out_channels: positiveInt.default(3),
  down_block_types: z.array(z.literal('DownEncoderBlock2D')).optional(),
  up_block_types: z.array(z.literal('UpDecoderBlock2D')).optional(),
  block_out_channels: z.array(positiveInt).min(1).default([64]),
  layers_per_block: positiveInt.default(1),
  act_fn: z.literal('silu').default('silu'),
  latent_channels: positiveInt.default(4),
  norm_num_groups: positiveInt.default(32),
  sample_size: positiveInt.default(32),
  scaling_factor: z.number().positive().default(0.18215),
  /** SD3/Flux VAEs shift latents before scaling; SD1/SD2 have none. */
  shift_factor: z.number().nullable().optional(),
  use_quant_conv: z.boolean().default(true),
  use_post_quant_conv: z.boolean().default(true),
  mid_block_add_attention: z.boolean().default(true),
});

export type VaeConfig = z.output<typeof vaeConfigSchema>;

/** Validates a parsed config.json; `source` names the file in error messages. */
export function parseVaeConfig(raw: unknown, source = 'VAE config'): VaeConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new VaeConfigError(`${source}: expected a JSON object`);
  const cls = (raw as { _class_name?: unknown })._class_name;
  if (cls !== undefined && cls !== 'AutoencoderKL') throw new VaeConfigError(`${source}: _class_name is "${String(cls)}", expected "AutoencoderKL"`);
  const res = vaeConfigSchema.safeParse(raw);
  if (!res.success) {
    const issues = res.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new VaeConfigError(`${source}: invalid AutoencoderKL config: ${issues}`);
  }
  const cfg = res.data;
  const n = cfg.block_out_channels.length;
  for (const [key, list] of [['down_block_types', cfg.down_block_types], ['up_block_types', cfg.up_block_types]] as const) {
    if (list && list.length !== n) throw new VaeConfigError(`${source}: ${key} has ${list.length} entries but block_out_channels has ${n}`);
  }
  for (const c of cfg.block_out_channels) {
    if (c % cfg.norm_num_groups !== 0) throw new VaeConfigError(`${source}: block_out_channels ${c} is not divisible by norm_num_groups ${cfg.norm_num_groups}`);
  }
  return cfg;
}

/** Spatial factor between image and latent: one ×2 per level but the last. */
export function vaeScaleFactor(cfg: VaeConfig): number {
  return 2 ** (cfg.block_out_channels.length - 1);
}

/**
 * Infers the config from diffusers-named tensor shapes (single-file checkpoints carry no config.json).
 * `shape(name)` returns a tensor's shape or undefined. scaling_factor cannot be inferred: SD1/SD2's 0.18215
 * is the default, callers override it for other families.
 */
export function inferVaeConfig(shape: (name: string) => readonly number[] | undefined, source: string, scalingFactor = 0.18215): VaeConfig {
  const convIn = shape('encoder.conv_in.weight');
  const convOut = shape('decoder.conv_out.weight');
  const postQuant = shape('decoder.conv_in.weight');
  if (!convIn || !convOut || !postQuant) throw new VaeConfigError(`${source}: no VAE found (missing encoder.conv_in / decoder.conv_in / decoder.conv_out weights)`);
  const blocks: number[] = [];
  while (shape(`encoder.down_blocks.${blocks.length}.resnets.0.conv1.weight`)) blocks.push(shape(`encoder.down_blocks.${blocks.length}.resnets.0.conv1.weight`)![0]);
  let layers = 0;
  while (shape(`encoder.down_blocks.0.resnets.${layers}.conv1.weight`)) layers++;
  if (blocks.length === 0 || layers === 0) throw new VaeConfigError(`${source}: cannot find encoder down blocks`);
  // GroupNorm group count is not stored; every released AutoencoderKL uses 32 (the tiny test models use fewer
  // channels than that, so fall back to the largest divisor of the first width not above 32).
  let groups = 32;
  while (blocks.some((c) => c % groups !== 0)) groups--;
  return parseVaeConfig({
    in_channels: convIn[1],
    out_channels: convOut[0],
    block_out_channels: blocks,
    layers_per_block: layers,
    latent_channels: postQuant[1],
    norm_num_groups: groups,
    scaling_factor: scalingFactor,
    use_quant_conv: shape('quant_conv.weight') !== undefined,
    use_post_quant_conv: shape('post_quant_conv.weight') !== undefined,
    mid_block_add_attention: shape('encoder.mid_block.attentions.0.to_q.weight') !== undefined,
  }, source);
}
