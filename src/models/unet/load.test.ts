import { describe, it, expect, afterAll } from 'vitest';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goldenRoot, readF32, readJson } from '../../../test/golden/io.ts';
import { openSafetensors } from '../../weights/safetensors.ts';
import { writeSafetensors, type TensorToWrite } from '../../weights/safetensors.ts';
import { f32ToF16Array } from '../../weights/dtype.ts';
import { loadUNet, openUNetCheckpoint, type UNetForwardInputs } from './load.ts';
import { loadT2IAdapter } from '../t2iAdapter/load.ts';

const TINY = join(goldenRoot, 'models/unet_tiny');
const tmp = mkdtempSync(join(tmpdir(), 'inkflow-unet-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const io = readJson(join(TINY, 'io.json')).cases;
const case1: UNetForwardInputs = {
  sample: readF32(join(TINY, 'case1.in.sample.bin')),
  timestep: readF32(join(TINY, 'case1.in.timestep.bin')),
  encoderHiddenStates: readF32(join(TINY, 'case1.in.encoder_hidden_states.bin')),
};
const SHAPES = { batch: 2, height: 8, width: 8, seqLen: io.case1.tensors['case1.in.encoder_hidden_states'].shape[1] as number, cacheDir: false as const };
const expected1 = readF32(join(TINY, 'case1.out.sample.bin'));

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

/** A diffusers folder in tmp with the tiny UNet's tensors, edited by `edit` (return null to drop one). */
async function folderWith(name: string, edit: (t: TensorToWrite & { f32: Float32Array }) => TensorToWrite | null, file = 'diffusion_pytorch_model.safetensors', src = TINY): Promise<string> {
  const dir = join(tmp, name);
  rmSync(dir, { recursive: true, force: true });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir);
  copyFileSync(join(src, 'config.json'), join(dir, 'config.json'));
  const r = openSafetensors(join(src, 'weights.safetensors'));
  const out: TensorToWrite[] = [];
  for (const [k, info] of r.tensors) {
    const e = edit({ name: k, dtype: 'F32', shape: info.shape, data: r.readRaw(k), f32: r.readF32(k) });
    if (e) out.push(e);
  }
  r.close();
  await writeSafetensors(join(dir, file), out);
  return dir;
}

describe('loadUNet', () => {
  it('gives identical outputs from the diffusers folder and the LDM single file', async () => {
    const a = await loadUNet(TINY, SHAPES);
    const b = await loadUNet(join(TINY, 'ldm_unet.safetensors'), SHAPES);
    expect(a.source.layout).toBe('diffusers');
    expect(b.source.layout).toBe('ldm');
    expect(b.unusedKeys).toEqual([]);
    const oa = await a.forward(case1);
    const ob = await b.forward(case1);
    expect(Array.from(ob)).toEqual(Array.from(oa));
    expect(maxDiff(oa, expected1)).toBeLessThan(1e-4);
    await a.release();
    await b.release();
  });

  it('loads fp16-stored weights (diffusion_pytorch_model.fp16.safetensors), converted to f32', async () => {
    const dir = await folderWith('fp16', (t) => ({ name: t.name, dtype: 'F16', shape: t.shape, data: f32ToF16Array(t.f32) }), 'diffusion_pytorch_model.fp16.safetensors');
    const u = await loadUNet(dir, SHAPES);
    expect(u.source.file.endsWith('.fp16.safetensors')).toBe(true);
    const err = maxDiff(await u.forward(case1), expected1);
    // fp16 rounding of N(0,0.05) weights (rel. 5e-4) moves the output a little, but not far.
    expect(err).toBeGreaterThan(1e-6);
    expect(err).toBeLessThan(2e-2);
    await u.release();
  });

  it('names a missing key and its expected shape', async () => {
    const dir = await folderWith('missing', (t) => (t.name === 'mid_block.attentions.0.proj_in.weight' ? null : t));
    await expect(loadUNet(dir, SHAPES)).rejects.toThrow(/missing weight "mid_block\.attentions\.0\.proj_in\.weight" \(expected f32 \[64,64,1,1\]\)/);
  });

  it('names a wrong-shaped key with both shapes', async () => {
    const dir = await folderWith('shape', (t) => (t.name === 'conv_in.weight' ? { ...t, shape: [32, 4, 1, 1], data: t.f32.subarray(0, 128) } : t));
    await expect(loadUNet(dir, SHAPES)).rejects.toThrow(/weight "conv_in\.weight" has shape \[32,4,1,1\], expected \[32,4,3,3\]/);
  });

  it('names the LDM key looked up when a single file lacks a tensor', async () => {
    const file = join(tmp, 'ldm_missing.safetensors');
    const r = openSafetensors(join(TINY, 'ldm_unet.safetensors'));
    const out: TensorToWrite[] = [];
    for (const [k, info] of r.tensors) if (k !== 'model.diffusion_model.output_blocks.1.1.conv.weight') out.push({ name: k, dtype: 'F32', shape: info.shape, data: r.readRaw(k) });
    r.close();
    await writeSafetensors(file, out);
    await expect(loadUNet(file, { ...SHAPES, config: readJson(join(TINY, 'config.json')) }))
      .rejects.toThrow(/missing weight "up_blocks\.0\.upsamplers\.0\.conv\.weight" \(expected f32 \[64,64,3,3\]\).*looked up as "model\.diffusion_model\.output_blocks\.1\.1\.conv\.weight"/);
  });

  it('refuses weights that the config does not use (SDRO weights under a plain UNet config)', async () => {
    const sdro = join(goldenRoot, 'models/sdro_unet_tiny');
    const dir = join(tmp, 'mismatch');
    rmSync(dir, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir);
    copyFileSync(join(sdro, 'weights.safetensors'), join(dir, 'diffusion_pytorch_model.safetensors'));
    copyFileSync(join(TINY, 'config.json'), join(dir, 'config.json'));
    await expect(loadUNet(dir, SHAPES)).rejects.toThrow(/16 weights do not belong to the configured UNet2DConditionModel.*controlnet_cond_embedding\./);
  });

  it('explains folders and files without usable weights', async () => {
    const dir = join(tmp, 'empty');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir, { recursive: true });
    await expect(loadUNet(dir, SHAPES)).rejects.toThrow(/has no config\.json/);
    copyFileSync(join(TINY, 'config.json'), join(dir, 'config.json'));
    await expect(loadUNet(dir, SHAPES)).rejects.toThrow(/no UNet weights in .*looked for diffusion_pytorch_model\.safetensors/);
    writeFileSync(join(dir, 'diffusion_pytorch_model.bin'), 'x');
    await expect(loadUNet(dir, SHAPES)).rejects.toThrow(/diffusion_pytorch_model\.bin: pickle files are not loaded/);
    const vae = join(goldenRoot, 'models/vae_tiny/weights.safetensors');
    await expect(loadUNet(vae, SHAPES)).rejects.toThrow(/holds no UNet weights: looked for conv_in\.weight/);
    await expect(loadUNet(join(tmp, 'nope'), SHAPES)).rejects.toThrow(/UNet path not found/);
    await expect(loadUNet(TINY, { ...SHAPES, height: 0 })).rejects.toThrow(/height must be a positive integer/);
  });

  it('infers the structure of an LDM single file that comes without a config', () => {
    const file = join(tmp, 'alone.safetensors');
    copyFileSync(join(TINY, 'ldm_unet.safetensors'), file);
    const ck = openUNetCheckpoint(file);
    ck.reader.close();
    const c = ck.config;
    expect(c.blockOutChannels).toEqual([32, 64]);
    expect(c.down.map((d) => [d.type, d.layers, d.heads])).toEqual([['CrossAttnDownBlock2D', 1, 8], ['DownBlock2D', 1, 8]]);
    expect(c.up.map((u) => u.type)).toEqual(['UpBlock2D', 'CrossAttnUpBlock2D']);
    expect(c).toMatchObject({ crossAttentionDim: 32, useLinearProjection: false, inChannels: 4, outChannels: 4, addition: null });
    // norm_num_groups is not in the shapes: the released models' 32 is assumed (the tiny model uses 8).
    expect(c.normNumGroups).toBe(32);
  });

  it('checks forward inputs', async () => {
    const u = await loadUNet(TINY, SHAPES);
    await expect(u.forward({ ...case1, sample: new Float32Array(10) })).rejects.toThrow(/sample has 10 values, expected \[2,4,8,8\]/);
    await expect(u.forward({ ...case1, timestep: [1, 2, 3] })).rejects.toThrow(/3 timesteps for a batch of 2/);
    await expect(u.forward({ ...case1, midResidual: new Float32Array(512) })).rejects.toThrow(/load it with controlNet: true/);
    // One timestep broadcasts over the batch.
    const same = await u.forward({ ...case1, timestep: 750 });
    const both = await u.forward({ ...case1, timestep: [750, 750] });
    expect(Array.from(same)).toEqual(Array.from(both));
    await u.release();
  });

  it('reuses the compile cache on the second load', async () => {
    const cacheDir = join(tmp, 'cache');
    const a = await loadUNet(TINY, { ...SHAPES, cacheDir });
    const b = await loadUNet(TINY, { ...SHAPES, cacheDir });
    expect([a.model.fromCache, b.model.fromCache]).toEqual([false, true]);
    expect(Array.from(await b.forward(case1))).toEqual(Array.from(await a.forward(case1)));
    await a.release();
    await b.release();
  });
});

describe('loadUNet with T2I-Adapter features (golden unet_tiny + t2i_adapter_tiny)', () => {
  const ADAPTER = join(goldenRoot, 'models/t2i_adapter_tiny');
  const case0: UNetForwardInputs = {
    sample: readF32(join(TINY, 'case0.in.sample.bin')),
    timestep: 999,
    encoderHiddenStates: readF32(join(TINY, 'case0.in.encoder_hidden_states.bin')),
  };
  const shapes0 = { batch: 1, height: 8, width: 8, seqLen: io.case0.tensors['case0.in.encoder_hidden_states'].shape[1] as number, cacheDir: false as const };

  it('zero features give the no-adapter output; the adapter\'s features (×scale) change it', async () => {
    // The tiny adapter's features for a 64² image are [1,32,8,8] and [1,64,4,4]: exactly the tiny UNet's
    // level-0 (CrossAttn, 8×8) and level-1 (DownBlock2D without downsampler, 4×4) injection points.
    const adapter = await loadT2IAdapter(ADAPTER, { batch: 1, height: 64, width: 64, cacheDir: false });
    const plain = await loadUNet(TINY, shapes0);
    const u = await loadUNet(TINY, { ...shapes0, adapterFeatures: 2 });
    try {
      expect(adapter.featureShapes).toEqual([u.inputShapes.adapter_feature_0, u.inputShapes.adapter_feature_1]);
      const features = await adapter.forward(readF32(join(ADAPTER, 'case0.in.image.bin')));
      const base = await plain.forward(case0);
      expect(maxDiff(base, readF32(join(TINY, 'case0.out.sample.bin')))).toBeLessThan(1e-4);
      const zeros = await u.forward(case0); // absent features are fed as zeros
      const explicitZeros = await u.forward({ ...case0, adapterFeatures: features.map((f) => new Float32Array(f.length)) });
      expect(Array.from(explicitZeros)).toEqual(Array.from(zeros));
      const zeroErr = maxDiff(zeros, base);
      const full = await u.forward({ ...case0, adapterFeatures: features });
      const half = await u.forward({ ...case0, adapterFeatures: features.map((f) => f.map((v) => v * 0.5)) });
      console.log(`tiny UNet + tiny adapter: zero features vs no adapter max|Δ| ${zeroErr.toExponential(2)}; scale 1 moves the output by ${maxDiff(full, base).toFixed(3)}, scale 0.5 by ${maxDiff(half, base).toFixed(3)}`);
      expect(zeroErr).toBeLessThan(1e-5);
      expect(maxDiff(full, base)).toBeGreaterThan(1e-2);
      expect(maxDiff(half, base)).toBeGreaterThan(1e-3);
      expect(maxDiff(half, full)).toBeGreaterThan(1e-3);
      // Only the level-1 feature: the DownBlock2D path alone also moves the output.
      const deep = await u.forward({ ...case0, adapterFeatures: [new Float32Array(features[0].length), features[1]] });
      expect(maxDiff(deep, base)).toBeGreaterThan(1e-3);
    } finally {
      await adapter.release();
      await plain.release();
      await u.release();
    }
  });

  it('explains adapter inputs that do not fit', async () => {
    await expect(loadUNet(TINY, { ...shapes0, adapterFeatures: 4 })).rejects.toThrow(/takes 0 to 3 T2I-Adapter features/);
    const plain = await loadUNet(TINY, shapes0);
    const u = await loadUNet(TINY, { ...shapes0, adapterFeatures: 2 });
    try {
      await expect(plain.forward({ ...case0, adapterFeatures: [new Float32Array(2048)] })).rejects.toThrow(/no such input \(load it with adapterFeatures: 1\)/);
      await expect(u.forward({ ...case0, adapterFeatures: [new Float32Array(10)] })).rejects.toThrow(/adapter_feature_0 has 10 values, expected \[1,32,8,8\]/);
    } finally {
      await plain.release();
      await u.release();
    }
  });
});
