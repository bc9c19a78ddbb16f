// ImageScale / ImageScaleBy stay in float (except lanczos, 8 bit as in ComfyUI); LatentUpscale offers
// ComfyUI's five methods and its size rules.
import { describe, expect, it } from 'vitest';
import { imageBatch, type ImageBatch } from '../values.ts';
import type { Latent } from '../../pipelines/generate/latent.ts';
import type { NodeContext } from '../nodeSpec.ts';
import { ImageScale, ImageScaleBy } from './imageOps.ts';
import { LatentUpscale } from './latentOps.ts';

const ctx = {} as NodeContext;
const first = async (def: typeof ImageScale, v: Record<string, unknown>) => (await def.run(v, ctx)).outputs[0];

describe('image scaling nodes', () => {
  // 1×2 RGB: values 0.3 and 0.7 are not multiples of 1/255.
  const img = imageBatch(1, 1, 2, 3, Float32Array.from([0.3, 0.3, 0.3, 0.7, 0.7, 0.7]));

  it('bilinear, bicubic, area and nearest-exact keep float values (no 8-bit rounding)', async () => {
    const bil = (await first(ImageScale, { image: img, upscale_method: 'bilinear', width: 4, height: 1, crop: 'disabled' })) as ImageBatch;
    expect([bil.width, bil.height, bil.channels]).toEqual([4, 1, 3]);
    [0.3, 0.4, 0.6, 0.7].forEach((want, x) => expect(bil.data[x * 3]).toBeCloseTo(want, 6));
    const area = (await first(ImageScale, { image: img, upscale_method: 'area', width: 1, height: 1, crop: 'disabled' })) as ImageBatch;
    expect(area.data[0]).toBeCloseTo(0.5, 7);
    const by = (await first(ImageScaleBy, { image: img, upscale_method: 'nearest-exact', scale_by: 2 })) as ImageBatch;
    expect([by.width, by.height]).toEqual([4, 2]);
    expect(Array.from(by.data.filter((_, i) => i % 3 === 0))).toEqual([0.3, 0.3, 0.7, 0.7, 0.3, 0.3, 0.7, 0.7].map(Math.fround));
    const cubic = (await first(ImageScale, { image: img, upscale_method: 'bicubic', width: 4, height: 0, crop: 'disabled' })) as ImageBatch;
    expect([cubic.width, cubic.height]).toEqual([4, 2]); // height 0 keeps the aspect
    expect(cubic.data[0]).toBeLessThan(0.3); // torch's bicubic overshoot, not clamped to 8 bit
  });

  it('lanczos goes through 8 bit, as ComfyUI (Pillow)', async () => {
    const out = (await first(ImageScale, { image: img, upscale_method: 'lanczos', width: 2, height: 1, crop: 'disabled' })) as ImageBatch;
    for (const v of out.data) expect(Number.isInteger(Math.round(v * 255 * 1e4) / 1e4)).toBe(true);
  });
});

describe('LatentUpscale', () => {
  const latent: Latent = { samples: Float32Array.from({ length: 4 * 8 * 8 }, (_, i) => Math.sin(i)), shape: [1, 4, 8, 8] };
  it('declares ComfyUI\'s methods and crops; a 0 side keeps the aspect, each side at least 64 px', async () => {
    const spec = LatentUpscale.required.upscale_method as { options: readonly string[] };
    expect(spec.options).toEqual(['nearest-exact', 'bilinear', 'area', 'bicubic', 'bislerp']);
    for (const method of spec.options) {
      const out = (await LatentUpscale.run({ samples: latent, upscale_method: method, width: 128, height: 0, crop: 'disabled' }, ctx)).outputs[0] as Latent;
      expect(out.shape, method).toEqual([1, 4, 16, 16]);
    }
    const small = (await LatentUpscale.run({ samples: latent, upscale_method: 'bilinear', width: 8, height: 8, crop: 'center' }, ctx)).outputs[0] as Latent;
    expect(small.shape).toEqual([1, 4, 8, 8]);
  });
});
