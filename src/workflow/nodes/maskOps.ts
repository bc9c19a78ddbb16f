// Mask nodes with ComfyUI's names and arithmetic: ImageToMask, MaskToImage, InvertMask, GrowMask.
import { growMask } from '../../imaging/masks.ts';
import type { NodeDef } from '../nodeSpec.ts';
import { imageBatch, maskBatch, type ImageBatch, type MaskBatch } from '../values.ts';

const CHANNELS = ['red', 'green', 'blue', 'alpha'] as const;

export const ImageToMask: NodeDef = {
  name: 'ImageToMask',
  displayName: 'Convert Image to Mask',
  category: 'mask',
  required: { image: { type: 'IMAGE', link: true }, channel: { type: 'COMBO', options: CHANNELS } },
  outputs: [{ type: 'MASK' }],
  run(v) {
    const img = v.image as ImageBatch;
    const k = CHANNELS.indexOf(v.channel as (typeof CHANNELS)[number]);
    if (k >= img.channels) throw new Error(`ImageToMask: the image has ${img.channels} channels, no ${String(v.channel)} channel`);
    const out = maskBatch(img.batch, img.height, img.width);
    for (let i = 0; i < out.data.length; i++) out.data[i] = img.data[i * img.channels + k];
    return { outputs: [out] };
  },
};

export const MaskToImage: NodeDef = {
  name: 'MaskToImage',
  displayName: 'Convert Mask to Image',
  category: 'mask',
  required: { mask: { type: 'MASK', link: true } },
  outputs: [{ type: 'IMAGE' }],
  run(v) {
    const m = v.mask as MaskBatch;
    const out = imageBatch(m.batch, m.height, m.width, 3);
    for (let i = 0; i < m.data.length; i++) out.data.fill(m.data[i], i * 3, i * 3 + 3);
    return { outputs: [out] };
  },
};

export const InvertMask: NodeDef = {
  name: 'InvertMask',
  category: 'mask',
  required: { mask: { type: 'MASK', link: true } },
  outputs: [{ type: 'MASK' }],
  run(v) {
    const m = v.mask as MaskBatch;
    return { outputs: [maskBatch(m.batch, m.height, m.width, m.data.map((x) => 1 - x))] };
  },
};

export const GrowMask: NodeDef = {
  name: 'GrowMask',
  displayName: 'Grow Mask',
  category: 'mask',
  required: {
    mask: { type: 'MASK', link: true },
    expand: { type: 'INT', default: 0, min: -16384, max: 16384, step: 1 },
    tapered_corners: { type: 'BOOLEAN', default: true },
  },
  outputs: [{ type: 'MASK' }],
  run(v) {
    const m = v.mask as MaskBatch;
    const per = m.width * m.height;
    const out = maskBatch(m.batch, m.height, m.width);
    for (let b = 0; b < m.batch; b++) {
      const grown = growMask({ width: m.width, height: m.height, data: m.data.slice(b * per, (b + 1) * per) }, Number(v.expand), { taperedCorners: v.tapered_corners === true });
      out.data.set(grown.data, b * per);
    }
    return { outputs: [out] };
  },
};
