// Latent nodes that need no model: EmptyLatentImage, RepeatLatentBatch, SetLatentNoiseMask, LatentUpscale.
import { roundHalfEven } from '../../imaging/threshold.ts';
import { GENERATE_DEFAULTS } from '../../pipelines/generate/defaults.ts';
import { emptyLatent, LATENT_UPSCALE_METHODS, repeatLatent, upscaleLatent, type Latent, type LatentUpscaleMethod } from '../../pipelines/generate/latent.ts';
import type { NodeDef } from '../nodeSpec.ts';
import type { MaskBatch } from '../values.ts';

export const EmptyLatentImage: NodeDef = {
  name: 'EmptyLatentImage',
  displayName: 'Empty Latent Image',
  description: 'Create a new batch of empty latent images to be denoised via sampling.',
  category: 'latent',
  required: {
    width: { type: 'INT', default: GENERATE_DEFAULTS.width, min: 16, max: 16384, step: 8, tooltip: 'The width of the latent images in pixels.' },
    height: { type: 'INT', default: GENERATE_DEFAULTS.height, min: 16, max: 16384, step: 8, tooltip: 'The height of the latent images in pixels.' },
    batch_size: { type: 'INT', default: GENERATE_DEFAULTS.batch, min: 1, max: 4096, tooltip: 'The number of latent images in the batch.' },
  },
  outputs: [{ type: 'LATENT', tooltip: 'The empty latent image batch.' }],
  run(v) {
    return { outputs: [emptyLatent(Number(v.width), Number(v.height), Number(v.batch_size))] };
  },
};

export const RepeatLatentBatch: NodeDef = {
  name: 'RepeatLatentBatch',
  displayName: 'Repeat Latent Batch',
  category: 'latent/batch',
  required: { samples: { type: 'LATENT', link: true }, amount: { type: 'INT', default: 1, min: 1, max: 64 } },
  outputs: [{ type: 'LATENT' }],
  run(v) {
    return { outputs: [repeatLatent(v.samples as Latent, Number(v.amount))] };
  },
};

export const SetLatentNoiseMask: NodeDef = {
  name: 'SetLatentNoiseMask',
  displayName: 'Set Latent Noise Mask',
  category: 'latent/inpaint',
  required: { samples: { type: 'LATENT', link: true }, mask: { type: 'MASK', link: true } },
  outputs: [{ type: 'LATENT' }],
  run(v) {
    const l = v.samples as Latent;
    const m = v.mask as MaskBatch;
    return { outputs: [{ ...l, noiseMask: { data: m.data, shape: [m.batch, m.height, m.width] } } satisfies Latent] };
  },
};

export const LatentUpscale: NodeDef = {
  name: 'LatentUpscale',
  displayName: 'Upscale Latent',
  category: 'latent',
  required: {
    samples: { type: 'LATENT', link: true },
    upscale_method: { type: 'COMBO', options: LATENT_UPSCALE_METHODS },
    width: { type: 'INT', default: 512, min: 0, max: 16384, step: 8 },
    height: { type: 'INT', default: 512, min: 0, max: 16384, step: 8 },
    crop: { type: 'COMBO', options: ['disabled', 'center'] },
  },
  outputs: [{ type: 'LATENT' }],
  run(v) {
    const l = v.samples as Latent;
    let w = Number(v.width);
    let h = Number(v.height);
    if (w === 0 && h === 0) return { outputs: [l] };
    // ComfyUI: a 0 side keeps the aspect; both sides at least 64 pixels.
    if (w === 0) {
      h = Math.max(64, h);
      w = Math.max(64, roundHalfEven((l.shape[3] * h) / l.shape[2]));
    } else if (h === 0) {
      w = Math.max(64, w);
      h = Math.max(64, roundHalfEven((l.shape[2] * w) / l.shape[3]));
    } else {
      w = Math.max(64, w);
      h = Math.max(64, h);
    }
    return { outputs: [upscaleLatent(l, w, h, v.upscale_method as LatentUpscaleMethod, v.crop as 'disabled' | 'center')] };
  },
};
