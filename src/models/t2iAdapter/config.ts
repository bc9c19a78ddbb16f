// A diffusers T2IAdapter config.json (`_class_name` "T2IAdapter"), with diffusers v0.21 defaults.
import { z } from 'zod';

export const ADAPTER_TYPES = ['full_adapter', 'full_adapter_xl', 'light_adapter'] as const;
export type AdapterType = (typeof ADAPTER_TYPES)[number];

export class T2IAdapterConfigError extends Error {
  override name = 'T2IAdapterConfigError';
}

export interface T2IAdapterConfig {
  type: AdapterType;
  /** Channels of the control image (3 for RGB, 1 for the sketch adapters). */
  inChannels: number;
  /** One entry per UNet down level (light_adapter: per level, plus a last block at channels[-1]). */
  channels: number[];
  numResBlocks: number;
  /** PixelUnshuffle factor at the input: 8 (SD) or 16 (full_adapter_xl). */
  downscaleFactor: number;
}

const schema = z.object({
  _class_name: z.string().optional(),
  adapter_type: z.enum(ADAPTER_TYPES).default('full_adapter'),
  in_channels: z.number().int().positive().default(3),
  channels: z.array(z.number().int().positive()).min(1).default([320, 640, 1280, 1280]),
  num_res_blocks: z.number().int().positive().default(2),
  downscale_factor: z.number().int().positive().default(8),
});

export function parseT2IAdapterConfig(json: unknown): T2IAdapterConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new T2IAdapterConfigError('T2IAdapter config must be a JSON object');
  const res = schema.safeParse(json);
  if (!res.success) {
    const issues = res.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new T2IAdapterConfigError(`invalid T2IAdapter config: ${issues}`);
  }
  const c = res.data;
  if (c._class_name !== undefined && c._class_name !== 'T2IAdapter') {
    throw new T2IAdapterConfigError(`not a T2IAdapter config: _class_name is ${JSON.stringify(c._class_name)}, expected "T2IAdapter"`);
  }
  if (c.adapter_type === 'full_adapter_xl' && c.channels.length < 3) {
    throw new T2IAdapterConfigError(`full_adapter_xl needs at least 3 channels entries (it downsamples at the third), got ${c.channels.length}`);
  }
  if (c.adapter_type === 'light_adapter' && c.channels.some((ch) => ch % 4 !== 0)) {
    throw new T2IAdapterConfigError(`light_adapter channels must be divisible by 4 (its blocks run at channels/4), got ${c.channels.join(', ')}`);
  }
  return { type: c.adapter_type, inChannels: c.in_channels, channels: c.channels, numResBlocks: c.num_res_blocks, downscaleFactor: c.downscale_factor };
}

/** [channels, downsampled-before-this-block] of each body block, in feature order. */
export function adapterBlocks(c: T2IAdapterConfig): { channels: number; down: boolean }[] {
  const ch = c.channels;
  switch (c.type) {
    case 'full_adapter':
      return ch.map((channels, i) => ({ channels, down: i > 0 }));
    case 'full_adapter_xl':
      // Only the third block halves the size: features at 1/16, 1/16, 1/32, 1/32 of the image for SDXL.
      return ch.map((channels, i) => ({ channels, down: i === 2 }));
    case 'light_adapter':
      return [...ch.map((channels, i) => ({ channels, down: i > 0 })), { channels: ch[ch.length - 1], down: true }];
  }
}

/** Shapes of the features for an image of [batch, in_channels, height, width]. */
export function adapterFeatureShapes(c: T2IAdapterConfig, batch: number, height: number, width: number): number[][] {
  let h = height / c.downscaleFactor;
  let w = width / c.downscaleFactor;
  return adapterBlocks(c).map((b) => {
    if (b.down) {
      h = Math.ceil(h / 2); // AvgPool2d(2, ceil_mode=True)
      w = Math.ceil(w / 2);
    }
    return [batch, b.channels, h, w];
  });
}
