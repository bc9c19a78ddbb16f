// SDRO's opt-in fast modes on the tiny golden components: int8 (quantised image encoder, UNet, VAE)
// and step caching run the same pipeline to an image of the same size close to the fp32 one, and
// switching them off gives exactly the fp32 bytes. PSNRs are printed for the record.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goldenRoot } from '../../../test/golden/io.ts';
import { decodeImage, type Image } from '../../imaging/image.ts';
import { psnr } from '../../imaging/metrics.ts';
import { loadSdroPipeline, type ColorizeResult, type SdroPipeline } from './sdro.ts';

const dir = join(goldenRoot, 'sdro_pipeline');
const same = (a: ColorizeResult, b: ColorizeResult) => Buffer.from(a.image.data).equals(Buffer.from(b.image.data)) && Buffer.from(a.latents.data.buffer).equals(Buffer.from(b.latents.data.buffer));

function latentRelError(a: Float32Array, ref: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) { num += (a[i] - ref[i]) ** 2; den += ref[i] ** 2; }
  return Math.sqrt(num / den);
}

describe('SDRO fast modes on the tiny golden components', () => {
  let fp32: SdroPipeline;
  let reference: Image;
  let blueprint: Image;
  let base: ColorizeResult;
  const opts = { steps: 8, seed: 42 };

  beforeAll(async () => {
    fp32 = await loadSdroPipeline(dir, { cacheDir: false });
    reference = await decodeImage(join(dir, 'reference.png'), 3);
    blueprint = await decodeImage(join(dir, 'blueprint.png'), 3);
    base = await fp32.colorize({ reference, blueprint, ...opts });
  });
  afterAll(async () => {
    await fp32?.release();
  });

  it("int8 runs the whole pipeline close to fp32; precision 'fp32' is byte-identical", async () => {
    const q = await loadSdroPipeline(dir, { cacheDir: false, precision: 'int8' });
    const off = await loadSdroPipeline(dir, { cacheDir: false, precision: 'fp32' });
    try {
      const a = await q.colorize({ reference, blueprint, ...opts });
      expect([a.image.width, a.image.height]).toEqual([base.image.width, base.image.height]);
      expect(same(a, base)).toBe(false); // really quantised
      const err = latentRelError(a.latents.data, base.latents.data);
      const db = psnr(a.image, base.image);
      console.log(`tiny SDRO int8 vs fp32: latent rel.err ${(100 * err).toFixed(2)} %, image PSNR ${db.toFixed(1)} dB`);
      expect(err).toBeLessThan(0.1);
      expect(db).toBeGreaterThan(25);
      expect(same(await off.colorize({ reference, blueprint, ...opts }), base)).toBe(true);
    } finally {
      await q.release();
      await off.release();
    }
  });

  it('step caching runs shallow steps between full ones; cacheSteps 1 is byte-identical', async () => {
    const c = await fp32.colorize({ reference, blueprint, ...opts, cacheSteps: 3 });
    expect(c.unetCalls).toEqual({ full: 4, shallow: 4 }); // full at steps 0, 3, 6 and the last (7)
    expect(base.unetCalls).toEqual({ full: 8, shallow: 0 });
    expect(same(c, base)).toBe(false);
    const db = psnr(c.image, base.image);
    console.log(`tiny SDRO cacheSteps 3 vs uncached: image PSNR ${db.toFixed(1)} dB, latent rel.err ${(100 * latentRelError(c.latents.data, base.latents.data)).toFixed(2)} %`);
    expect(db).toBeGreaterThan(15);
    const off = await fp32.colorize({ reference, blueprint, ...opts, cacheSteps: 1 });
    expect(same(off, base)).toBe(true);
    // Colouring's default cut: the cached state holds all but the last layer of the last up block.
    const last = fp32.unetConfig.up[fp32.unetConfig.up.length - 1].layers - 1;
    expect(fp32.compiledUNetSizes().sort()).toEqual(['8x8', `8x8:consume:${last}`, `8x8:produce:${last}`]);
  });

  it("DeepCache's own cut (cachedUpLayers 0) runs too and reruns more of the UNet, so its result differs", async () => {
    const deep = await fp32.colorize({ reference, blueprint, ...opts, cacheSteps: 3, cachedUpLayers: 0 });
    const shallowest = await fp32.colorize({ reference, blueprint, ...opts, cacheSteps: 3 });
    expect(deep.unetCalls).toEqual({ full: 4, shallow: 4 });
    expect(same(deep, shallowest)).toBe(false);
    expect(psnr(deep.image, base.image)).toBeGreaterThan(15);
    expect(fp32.compiledUNetSizes()).toContain('8x8:consume:0');
    await expect(fp32.colorize({ reference, blueprint, ...opts, cacheSteps: 3, cachedUpLayers: 9 })).rejects.toThrow(/0 to \d of the last up block's \d layers, got 9/);
  });

  it('rejects a cache interval it cannot honour', async () => {
    await expect(fp32.colorize({ reference, blueprint, ...opts, cacheSteps: 0 })).rejects.toThrow(/cache interval/);
  });
});
