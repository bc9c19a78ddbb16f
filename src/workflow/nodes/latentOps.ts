// Latent nodes that need no model: EmptyLatentImage, RepeatLatentBatch, SetLatentNoiseMask.
import { GENERATE_DEFAULTS } from '../../pipelines/generate/defaults.ts';
import { emptyLatent, repeatLatent, type Latent } from '../../pipelines/generate/latent.ts';
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
