// The T2I-Adapter runner (golden t2i_adapter_tiny) and the plan that fits an adapter to a UNet, for the
// tiny models and the released SD1.5 / SDXL shapes.
import { afterAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goldenRoot, readF32 } from '../../../test/golden/io.ts';
import { parseT2IAdapterConfig } from '../t2iAdapter/config.ts';
import { parseUNetConfig } from '../unet/config.ts';
import { SD15_CONFIG, SDXL_CONFIG } from '../unet/testConfigs.ts';
import { openT2IAdapter, planT2IAdapter, readT2IAdapterConfig } from './adapterRunner.ts';

const ADAPTER = join(goldenRoot, 'models/t2i_adapter_tiny');
const TINY_UNET = parseUNetConfig(JSON.parse(readFileSync(join(goldenRoot, 'models/unet_tiny/config.json'), 'utf8')));
const tmp = mkdtempSync(join(tmpdir(), 'inkflow-adapter-runner-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('planT2IAdapter', () => {
  it('tiny adapter on the tiny UNet: a 64² image for an 8² latent, both features used', () => {
    expect(planT2IAdapter(TINY_UNET, readT2IAdapterConfig(ADAPTER), 8, 8)).toEqual({ height: 64, width: 64, count: 2 });
    expect(planT2IAdapter(TINY_UNET, readT2IAdapterConfig(ADAPTER), 6, 10)).toEqual({ height: 48, width: 80, count: 2 });
  });

  it('released shapes: SD1.5 adapters see the 512² image (4 features); SDXL ones the 1024² image, the 4th after the mid block', () => {
    const sd = parseUNetConfig(SD15_CONFIG);
    expect(planT2IAdapter(sd, parseT2IAdapterConfig({}), 64, 64)).toEqual({ height: 512, width: 512, count: 4 });
    expect(planT2IAdapter(sd, parseT2IAdapterConfig({ adapter_type: 'light_adapter', channels: [320, 640, 1280], num_res_blocks: 4 }), 64, 96)).toEqual({ height: 512, width: 768, count: 4 });
    const xl = parseT2IAdapterConfig({ adapter_type: 'full_adapter_xl', downscale_factor: 16 });
    expect(planT2IAdapter(parseUNetConfig(SDXL_CONFIG), xl, 128, 128)).toEqual({ height: 1024, width: 1024, count: 4 });
  });

  it('an adapter that does not fit the UNet is named with both shapes', () => {
    expect(() => planT2IAdapter(TINY_UNET, parseT2IAdapterConfig({}), 8, 8)).toThrow(/feature 0 is \[320,8,8\] but down level 0 \(CrossAttnDownBlock2D\) takes \[32,8,8\]/);
  });
});

describe('openT2IAdapter', () => {
  it('reproduces the golden features, compiles per image size, refuses use after release', async () => {
    const a = openT2IAdapter(ADAPTER, { cacheDir: false });
    expect(a.config).toEqual({ type: 'full_adapter', inChannels: 3, channels: [32, 64], numResBlocks: 1, downscaleFactor: 8 });
    const [f0, f1] = await a.forward({ batch: 1, height: 64, width: 64 }, readF32(join(ADAPTER, 'case0.in.image.bin')));
    expect(maxDiff(f0, readF32(join(ADAPTER, 'case0.out.feature0.bin')))).toBeLessThan(1e-4);
    expect(maxDiff(f1, readF32(join(ADAPTER, 'case0.out.feature1.bin')))).toBeLessThan(1e-4);
    const small = await a.forward({ batch: 1, height: 32, width: 48 }, new Float32Array(3 * 32 * 48).fill(0.5));
    expect(small.map((f) => f.length)).toEqual([32 * 4 * 6, 64 * 2 * 3]);
    await expect(a.forward({ batch: 1, height: 60, width: 64 }, new Float32Array(3 * 60 * 64))).rejects.toThrow(/multiple of the adapter's downscale_factor 8/);
    await a.release();
    await expect(a.forward({ batch: 1, height: 64, width: 64 }, new Float32Array(3 * 64 * 64))).rejects.toThrow(/was released/);
  });

  it('infers the config of a lone file; refuses what is not an adapter', () => {
    const lone = join(tmp, 'adapter.safetensors');
    copyFileSync(join(ADAPTER, 'weights.safetensors'), lone);
    expect(readT2IAdapterConfig(lone)).toEqual(readT2IAdapterConfig(ADAPTER));
    expect(() => openT2IAdapter(join(goldenRoot, 'models/vae_tiny/weights.safetensors'))).toThrow(/not a diffusers T2IAdapter/);
    expect(() => openT2IAdapter(join(tmp, 'missing'))).toThrow(/does not exist/);
  });
});
