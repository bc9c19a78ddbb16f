import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goldenRoot } from '../../../test/golden/io.ts';
import { createGraph } from '../../graph/graph.ts';
import { interpret } from '../../graph/interpret.ts';
import { memoryWeights } from '../../graph/weights.ts';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../../weights/safetensors.ts';
import { adapterFeatureShapes, parseT2IAdapterConfig, T2IAdapterConfigError } from './config.ts';
import { avgPool2x2Ceil, pixelUnshuffle } from './resample.ts';
import { buildT2IAdapterGraph, inferT2IAdapterConfig, loadT2IAdapter } from './load.ts';

const golden = join(goldenRoot, 'models/t2i_adapter_tiny');
const goldenConfig = () => JSON.parse(readFileSync(join(golden, 'config.json'), 'utf8')) as Record<string, unknown>;
const f32 = (name: string) => {
  const b = readFileSync(join(golden, name));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const run1 = (build: (g: ReturnType<typeof createGraph>) => void, feeds: Record<string, { shape: number[]; data: number[] }>) => {
  const g = createGraph('t');
  build(g);
  return interpret(g, feeds, memoryWeights({})).out;
};

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'inkflow-t2i-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('T2I-Adapter resampling', () => {
  it('pixelUnshuffle puts pixel (y·r+i, x·r+j) of channel c at channel c·r²+i·r+j', () => {
    const data = Array.from({ length: 2 * 4 * 6 }, (_, k) => k); // [1,2,4,6]: value = c·24 + y·6 + x
    const out = run1((g) => g.output('out', pixelUnshuffle(g.input('x', 'f32', [1, 2, 4, 6]), 2)), { x: { shape: [1, 2, 4, 6], data } });
    expect(out.shape).toEqual([1, 8, 2, 3]);
    for (let c = 0; c < 2; c++) for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) {
      const oc = c * 4 + i * 2 + j;
      expect(out.data[(oc * 2 + y) * 3 + x]).toBe(c * 24 + (y * 2 + i) * 6 + (x * 2 + j));
    }
    expect(() => pixelUnshuffle(createGraph('t').input('x', 'f32', [1, 1, 6, 6]), 4)).toThrow(/divisible by 4/);
  });

  it('avgPool2x2Ceil averages only the pixels inside the image on odd edges (torch ceil_mode)', () => {
    // [1,1,3,3]: 0..8. Windows: {0,1,3,4} {2,5} {6,7} {8}.
    const out = run1((g) => g.output('out', avgPool2x2Ceil(g.input('x', 'f32', [1, 1, 3, 3]))), { x: { shape: [1, 1, 3, 3], data: [0, 1, 2, 3, 4, 5, 6, 7, 8] } });
    expect(out.shape).toEqual([1, 1, 2, 2]);
    expect(Array.from(out.data)).toEqual([2, 3.5, 6.5, 8]);
  });
});

describe('T2I-Adapter config', () => {
  it('reads the golden config and computes feature shapes per adapter type', () => {
    const c = parseT2IAdapterConfig(goldenConfig());
    expect(c).toEqual({ type: 'full_adapter', inChannels: 3, channels: [32, 64], numResBlocks: 1, downscaleFactor: 8 });
    expect(adapterFeatureShapes(c, 2, 64, 64)).toEqual([[2, 32, 8, 8], [2, 64, 4, 4]]);
    // SD1.5 adapters at 512²: 64, 32, 16, 8 — the UNet's four down levels.
    const sd = parseT2IAdapterConfig({});
    expect(adapterFeatureShapes(sd, 1, 512, 512).map((s) => s.slice(1))).toEqual([[320, 64, 64], [640, 32, 32], [1280, 16, 16], [1280, 8, 8]]);
    // SDXL: PixelUnshuffle(16), only the third block downsamples.
    const xl = parseT2IAdapterConfig({ adapter_type: 'full_adapter_xl', downscale_factor: 16 });
    expect(adapterFeatureShapes(xl, 1, 1024, 1024).map((s) => s.slice(1))).toEqual([[320, 64, 64], [640, 64, 64], [1280, 32, 32], [1280, 32, 32]]);
    const light = parseT2IAdapterConfig({ adapter_type: 'light_adapter', channels: [320, 640, 1280], num_res_blocks: 4 });
    expect(adapterFeatureShapes(light, 1, 512, 512).map((s) => s.slice(1))).toEqual([[320, 64, 64], [640, 32, 32], [1280, 16, 16], [1280, 8, 8]]);
  });

  it('refuses bad configs with the field named', () => {
    expect(() => parseT2IAdapterConfig({ adapter_type: 'huge' })).toThrow(/adapter_type/);
    expect(() => parseT2IAdapterConfig({ _class_name: 'ControlNetModel' })).toThrow(/"T2IAdapter"/);
    expect(() => parseT2IAdapterConfig({ channels: [] })).toThrow(T2IAdapterConfigError);
    expect(() => parseT2IAdapterConfig({ adapter_type: 'light_adapter', channels: [30] })).toThrow(/divisible by 4/);
    expect(() => parseT2IAdapterConfig('x')).toThrow(/JSON object/);
  });

  it('light adapter parameters carry diffusers names and shapes', () => {
    const light = parseT2IAdapterConfig({ adapter_type: 'light_adapter', channels: [32, 64], num_res_blocks: 2 });
    const g = buildT2IAdapterGraph(light, { batch: 1, height: 64, width: 64 });
    const shapes = Object.fromEntries([...g.params].map(([n, id]) => [n, g.values[id].shape]));
    expect(shapes['adapter.body.0.in_conv.weight']).toEqual([8, 192, 1, 1]);
    expect(shapes['adapter.body.0.resnets.1.block2.weight']).toEqual([8, 8, 3, 3]);
    expect(shapes['adapter.body.0.out_conv.weight']).toEqual([32, 8, 1, 1]);
    expect(shapes['adapter.body.2.in_conv.weight']).toEqual([16, 64, 1, 1]);
    expect(shapes['adapter.conv_in.weight']).toBeUndefined();
    expect(g.outputs.map((o) => g.values[o.id].shape)).toEqual([[1, 32, 8, 8], [1, 64, 4, 4], [1, 64, 2, 2]]);
  });
});

describe('T2I-Adapter loading', () => {
  it('infers the config of a lone diffusers file and reproduces the golden features', async () => {
    mkdirSync(join(tmp, 'lone'));
    const file = join(tmp, 'lone', 't2iadapter_tiny.safetensors');
    copyFileSync(join(golden, 'weights.safetensors'), file);
    const r = openSafetensors(file);
    expect(inferT2IAdapterConfig(r)).toEqual(parseT2IAdapterConfig(goldenConfig()));
    r.close();
    const a = await loadT2IAdapter(file, { batch: 1, height: 64, width: 64, cacheDir: false });
    try {
      const [f0, f1] = await a.forward(f32('case0.in.image.bin'));
      expect(maxAbs(f0, f32('case0.out.feature0.bin'))).toBeLessThan(1e-4);
      expect(maxAbs(f1, f32('case0.out.feature1.bin'))).toBeLessThan(1e-4);
      await expect(a.forward(new Float32Array(5))).rejects.toThrow(/image has 5 values, expected \[1,3,64,64\]/);
    } finally {
      await a.release();
    }
  });

  it('fails with messages naming the problem', async () => {
    await expect(loadT2IAdapter(golden, { batch: 1, height: 60, width: 64, cacheDir: false })).rejects.toThrow(/multiple of the adapter's downscale_factor 8/);
    await expect(loadT2IAdapter(golden, { batch: 0, height: 64, width: 64 })).rejects.toThrow(/batch must be a positive integer/);
    await expect(loadT2IAdapter(golden, { batch: 1, height: 64, width: 64, cacheDir: false, config: { ...goldenConfig(), num_res_blocks: 2 } })).rejects.toThrow(/missing weight "adapter\.body\.0\.resnets\.1\.block1\.weight" \(expected f32 \[32,32,3,3\]\)/);
    await expect(loadT2IAdapter(golden, { batch: 1, height: 64, width: 64, cacheDir: false, config: { ...goldenConfig(), channels: [32] } })).rejects.toThrow(/do not belong to the configured full_adapter.*adapter\.body\.1/);
    // Original TencentARC names are recognised and explained.
    const r = openSafetensors(join(golden, 'weights.safetensors'));
    const renamed: TensorToWrite[] = [...r.tensors.values()].map((t) => ({ name: t.name.replace('adapter.body.0.resnets.0', 'body.0').replace(/^adapter\./, ''), dtype: 'F32', shape: t.shape, data: r.readF32(t.name) }));
    r.close();
    const orig = join(tmp, 'orig.safetensors');
    await writeSafetensors(orig, renamed);
    await expect(loadT2IAdapter(orig, { batch: 1, height: 64, width: 64 })).rejects.toThrow(/original TencentARC key names/);
    await expect(loadT2IAdapter(join(goldenRoot, 'models/vae_tiny/weights.safetensors'), { batch: 1, height: 64, width: 64 })).rejects.toThrow(/holds no T2IAdapter weights/);
  });
});
