// A diffusers ControlNetModel config.json. The trunk (time embedding, conv_in, down blocks, mid block) is
// the UNet's, so it is validated by the UNet schema (models/unet/config.ts); the ControlNet-only keys
// (hint encoder, channel order, global pooling) are read here.
import { z } from 'zod';
import { parseUNetConfig, UNetConfigError, type UNetConfig } from '../unet/config.ts';
import { conditioningScale } from '../unet/conditioningEmbedding.ts';

export class ControlNetConfigError extends Error {
  override name = 'ControlNetConfigError';
}

export interface ControlNetConfig {
  /** The encoder half of a UNet with this ControlNet's structure (up levels are mirrored but unused). */
  unet: UNetConfig;
  /** Channels of the conditioning image (3 for RGB hints). */
  conditioningChannels: number;
  /** controlnet_cond_embedding stage widths; the hint is 2^(n−1)× the latent size. */
  embeddingOutChannels: number[];
  /** "bgr" flips the hint's channels before the embedding (diffusers does the same). */
  channelOrder: 'rgb' | 'bgr';
  /** Shuffle-style ControlNets: every residual is its spatial mean. */
  globalPoolConditions: boolean;
}

const CONTROLNET_KEYS = ['conditioning_channels', 'conditioning_embedding_out_channels', 'controlnet_conditioning_channel_order', 'global_pool_conditions'] as const;

const controlSchema = z.object({
  _class_name: z.string().optional(),
  conditioning_channels: z.number().int().positive().default(3),
  conditioning_embedding_out_channels: z.array(z.number().int().positive()).min(1).default([16, 32, 96, 256]),
  controlnet_conditioning_channel_order: z.enum(['rgb', 'bgr']).default('rgb'),
  global_pool_conditions: z.boolean().default(false),
  down_block_types: z.array(z.string()).min(1).default(['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D']),
});

/** The up block that mirrors a down block; a ControlNet config has no up_block_types but the UNet schema wants them. */
const MIRROR: Record<string, string> = { CrossAttnDownBlock2D: 'CrossAttnUpBlock2D', DownBlock2D: 'UpBlock2D' };

/** Validates a parsed ControlNetModel config.json. Throws ControlNetConfigError naming the field. */
export function parseControlNetConfig(json: unknown): ControlNetConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ControlNetConfigError('ControlNet config must be a JSON object');
  const res = controlSchema.safeParse(json);
  if (!res.success) {
    const issues = res.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ControlNetConfigError(`invalid ControlNet config: ${issues}`);
  }
  const c = res.data;
  if (c._class_name !== undefined && c._class_name !== 'ControlNetModel') {
    throw new ControlNetConfigError(`not a ControlNet config: _class_name is ${JSON.stringify(c._class_name)}, expected "ControlNetModel"`);
  }
  const trunk: Record<string, unknown> = { ...(json as Record<string, unknown>) };
  for (const k of CONTROLNET_KEYS) delete trunk[k];
  trunk._class_name = 'UNet2DConditionModel';
  trunk.down_block_types = c.down_block_types;
  trunk.up_block_types = [...c.down_block_types].reverse().map((t) => MIRROR[t] ?? t);
  let unet: UNetConfig;
  try {
    unet = parseUNetConfig(trunk);
  } catch (e) {
    if (e instanceof UNetConfigError) throw new ControlNetConfigError(e.message.replace(/UNet config/g, 'ControlNet config'));
    throw e;
  }
  return {
    unet,
    conditioningChannels: c.conditioning_channels,
    embeddingOutChannels: c.conditioning_embedding_out_channels,
    channelOrder: c.controlnet_conditioning_channel_order,
    globalPoolConditions: c.global_pool_conditions,
  };
}

/** How much larger than the latent the hint image is (8 for SD ControlNets). */
export function hintScale(config: ControlNetConfig): number {
  return conditioningScale(config.embeddingOutChannels);
}
