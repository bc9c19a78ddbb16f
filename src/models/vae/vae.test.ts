import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../../weights/safetensors.ts';
import { ldmVaeKey } from '../../weights/keymaps/ldmVae.ts';
import { VaeConfigError, inferVaeConfig, parseVaeConfig } from './config.ts';
import { loadVae } from './loadVae.ts';
import { vaeDecodeGraph } from './decoder.ts';
import { vaeEncodeGraph } from './encoder.ts';
import { decodeTiled, planTiles } from './tiledDecode.ts';
import { ModelFolderError } from '../modelFolder.ts';

const golden = resolve(process.env.INKFLOW_GOLDEN ?? join(import.meta.dirname, '../../../../shared/golden'), 'models/vae_tiny');
const readF32 = (name: string) => {
  const b = new Uint8Array(readFileSync(join(golden, name)));
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const latents = () => ({ shape: [2, 4, 16, 16], data: readF32('case1.in.latents.bin') });
const tmp = () => mkdtempSync(join(tmpdir(), 'inkflow-vae-'));

/** Rewrites the golden diffusers weights under new names (and shapes), optionally adding extra tensors. */
async function rewriteWeights(path: string, rename: (name: string, shape: number[]) => [string, number[]] | undefined, extra: TensorToWrite[] = []) {
  const r = openSafetensors(join(golden, 'weights.safetensors'));
  const out: TensorToWrite[] = [...extra];
  for (const info of r.tensors.values()) {
    const to = rename(info.name, info.shape);
    if (to) out.push({ name: to[0], dtype: 'F32', shape: to[1], data: r.readF32(info.name) });
  }
  await writeSafetensors(path, out);
  r.close();
}

describe('VAE config', () => {
  const base = { _class_name: 'AutoencoderKL', block_out_channels: [32, 64], norm_num_groups: 8 };
  it('reads the golden config with defaults', () => {
    const cfg = parseVaeConfig(JSON.parse(readFileSync(join(golden, 'config.json'), 'utf8')));
    expect(cfg.block_out_channels).toEqual([32, 64]);
    expect(cfg.scaling_factor).toBe(0.18215);
    expect(cfg.use_quant_conv).toBe(true);
  });
  it('rejects wrong class, mismatched block lists and indivisible groups with clear messages', () => {
    expect(() => parseVaeConfig({ _class_name: 'UNet2DConditionModel' })).toThrow(/expected "AutoencoderKL"/);
    expect(() => parseVaeConfig({ ...base, down_block_types: ['DownEncoderBlock2D'] })).toThrow(/down_block_types has 1 entries but block_out_channels has 2/);
    expect(() => parseVaeConfig({ ...base, norm_num_groups: 7 })).toThrow(/not divisible by norm_num_groups 7/);
    expect(() => parseVaeConfig({ ...base, layers_per_block: -1 })).toThrow(VaeConfigError);
    expect(() => parseVaeConfig([1])).toThrow(/expected a JSON object/);
  });
  it('infers the structure from tensor shapes', () => {
    const r = openSafetensors(join(golden, 'weights.safetensors'));
    const cfg = inferVaeConfig((n) => (r.has(n) ? r.info(n).shape : undefined), 'test');
    r.close();
    expect(cfg.block_out_channels).toEqual([32, 64]);
    expect(cfg.layers_per_block).toBe(2);
    expect(cfg.latent_channels).toBe(4);
    expect(cfg.norm_num_groups).toBe(32);
    expect(() => inferVaeConfig(() => undefined, 'empty.safetensors')).toThrow(/empty.safetensors: no VAE found/);
  });
});

describe('VAE graphs at real sizes', () => {
  it('builds the SD VAE (4 levels, 128–512 channels) with the right shapes and parameter count', () => {
    const sd = parseVaeConfig({ block_out_channels: [128, 256, 512, 512], layers_per_block: 2, norm_num_groups: 32 });
    const dec = vaeDecodeGraph(sd, [1, 4, 64, 96]);
    expect(dec.values[dec.outputs[0].id].shape).toEqual([1, 3, 512, 768]);
    const enc = vaeEncodeGraph(sd, [1, 3, 512, 768]);
    expect(enc.values[enc.outputs.find((o) => o.name === 'latent_mean')!.id].shape).toEqual([1, 4, 64, 96]);
    const count = (g: typeof dec) => [...g.params.values()].reduce((a, id) => a + g.values[id].shape.reduce((x, y) => x * y, 1), 0);
    // diffusers AutoencoderKL for SD1/SD2: 83,653,863 parameters in total.
    expect(count(dec) + count(enc)).toBe(83653863);
    expect(() => vaeEncodeGraph(sd, [1, 3, 500, 512])).toThrow(/multiples of 8, got \[1,3,500,512\]/);
  });
});

describe('tile planning', () => {
  it('covers the length with equal tiles and at least the requested overlap', () => {
    expect(planTiles(16, 32, 8)).toEqual([0]);
    expect(planTiles(256, 64, 16)).toEqual([0, 48, 96, 144, 192]);
    const starts = planTiles(100, 64, 16);
    expect(starts[0]).toBe(0);
    expect(starts[starts.length - 1]).toBe(36);
    for (let i = 1; i < starts.length; i++) expect(starts[i - 1] + 64 - starts[i]).toBeGreaterThanOrEqual(16);
    expect(() => planTiles(100, 64, 64)).toThrow(/overlap must be/);
  });
});

describe('loadVae', () => {
  it('loads a diffusers folder with legacy query/key/value/proj_attn names and matches the golden decode', async () => {
    const dir = join(tmp(), 'vae');
    mkdirSync(dir);
    copyFileSync(join(golden, 'config.json'), join(dir, 'config.json'));
    const legacy: Record<string, string> = { to_q: 'query', to_k: 'key', to_v: 'value', 'to_out.0': 'proj_attn' };
    await rewriteWeights(join(dir, 'diffusion_pytorch_model.safetensors'), (n, s) => [n.replace(/attentions\.0\.(to_q|to_k|to_v|to_out\.0)\./, (_, p) => `attentions.0.${legacy[p]}.`), s]);
    const vae = await loadVae(join(dir, '..'), { cacheDir: false });
    expect(vae.scaleFactor).toBe(2);
    const out = await vae.decode(latents(), { tiled: false });
    expect(maxAbs(out.data, readF32('case1.out.decoded.bin'))).toBeLessThan(1e-4);
    await vae.release();
  });

  it('loads an LDM single file (first_stage_model.*, 1×1-conv attention) with the same numbers', async () => {
    const path = join(tmp(), 'model.safetensors');
    await rewriteWeights(path, (n, s) => {
      const key = ldmVaeKey(n, 2);
      if (!key) throw new Error(`no LDM key for ${n}`);
      const conv = /attn_1\.(q|k|v|proj_out)\.weight$/.test(key);
      return [`first_stage_model.${key}`, conv ? [...s, 1, 1] : s];
    }, [{ name: 'model.diffusion_model.conv_in.weight', dtype: 'F32', shape: [1], data: new Float32Array([0]) }]);
    const vae = await loadVae(path, { cacheDir: false, configPath: join(golden, 'config.json') });
    const enc = await vae.encode({ shape: [1, 3, 32, 32], data: readF32('case0.in.image.bin') });
    expect(maxAbs(enc.mean.data, readF32('case0.out.latent_mean.bin'))).toBeLessThan(1e-4);
    expect(maxAbs(enc.logvar.data, readF32('case0.out.latent_logvar.bin'))).toBeLessThan(1e-4);
    const out = await vae.decode(latents(), { tiled: false });
    expect(maxAbs(out.data, readF32('case1.out.decoded.bin'))).toBeLessThan(1e-4);
    await vae.release();
  });

  it('tiled decode has the exact shape, equals a whole decode for one tile, and stays close with several', async () => {
    const dir = tmp();
    copyFileSync(join(golden, 'config.json'), join(dir, 'config.json'));
    copyFileSync(join(golden, 'weights.safetensors'), join(dir, 'diffusion_pytorch_model.safetensors'));
    const model = await loadVae(dir, { cacheDir: false });
    // A smooth 24×40 latent (non-square, not a multiple of the tile).
    const [b, c, h, w] = [1, 4, 24, 40];
    const data = new Float32Array(b * c * h * w);
    for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[(ch * h + y) * w + x] = Math.sin(0.3 * x + ch) * Math.cos(0.2 * y - ch);
    const whole = await model.decode({ shape: [b, c, h, w], data }, { tiled: false });
    const oneTile = await model.decode({ shape: [b, c, h, w], data }, { tiled: true, tile: 40 });
    expect(maxAbs(oneTile.data, whole.data)).toBe(0);
    const tiled = await model.decode({ shape: [b, c, h, w], data }, { tiled: true, tile: 32, overlap: 16 });
    expect(tiled.shape).toEqual([1, 3, 48, 80]);
    let meanAbs = 0;
    let meanErr = 0;
    for (let i = 0; i < whole.data.length; i++) {
      meanAbs += Math.abs(whole.data[i]) / whole.data.length;
      meanErr += Math.abs(tiled.data[i] - whole.data[i]) / whole.data.length;
    }
    // GroupNorm statistics and the mid-block attention are per tile, so tiles cannot match a whole decode
    // exactly; this random tiny VAE (global attention with large weights) is a harsh case: measured 6%.
    console.log(`[vae] tiled 32/16 vs whole 48×80: mean abs diff ${meanErr.toFixed(4)} (max ${maxAbs(tiled.data, whole.data).toFixed(3)}), mean |x| ${meanAbs.toFixed(3)}`);
    expect(meanErr).toBeLessThan(0.1 * meanAbs);
    await model.release();
  });

  it('tile blending is exact for a local decoder, seams included', async () => {
    // A decoder that is a pure function of each latent cell (nearest ×2 of channel sums): any blend of
    // overlapping tiles must reproduce it exactly.
    const [b, c, h, w] = [2, 3, 13, 21];
    const data = Float32Array.from({ length: b * c * h * w }, (_, i) => Math.sin(i * 0.37));
    const local = async (d: Float32Array, s: readonly [number, number, number, number]) => {
      const [n, ch, th, tw] = s;
      const out = new Float32Array(n * 2 * th * 2 * tw * 2);
      for (let k = 0; k < n; k++) for (let o = 0; o < 2; o++) for (let y = 0; y < 2 * th; y++) for (let x = 0; x < 2 * tw; x++) {
        let v = 0;
        for (let q = 0; q < ch; q++) v += d[((k * ch + q) * th + (y >> 1)) * tw + (x >> 1)] * (o + 1);
        out[((k * 2 + o) * 2 * th + y) * 2 * tw + x] = v;
      }
      return out;
    };
    const whole = await local(data, [b, c, h, w]);
    const tiled = await decodeTiled({ shape: [b, c, h, w], data, scale: 2, outChannels: 2 }, local, { tile: 8, overlap: 3 });
    expect(tiled.shape).toEqual([2, 2, 26, 42]);
    expect(maxAbs(tiled.data, whole)).toBeLessThan(1e-5);
  });

  it('says where it looked when the folder has no VAE, and refuses pickles', async () => {
    const dir = tmp();
    await expect(loadVae(dir)).rejects.toThrow(ModelFolderError);
    await expect(loadVae(dir)).rejects.toThrow(/no config.json in/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ _class_name: 'AutoencoderKL' }));
    writeFileSync(join(dir, 'diffusion_pytorch_model.bin'), Buffer.from([0x80, 0x02, 0x7d]));
    await expect(loadVae(dir)).rejects.toThrow(/refuses pickle checkpoints/);
    await expect(loadVae(join(dir, 'missing.safetensors'))).rejects.toThrow(/does not exist/);
  });

  it('names the missing key and its expected shape', async () => {
    const dir = tmp();
    copyFileSync(join(golden, 'config.json'), join(dir, 'config.json'));
    await rewriteWeights(join(dir, 'diffusion_pytorch_model.safetensors'), (n, s) => (n === 'decoder.conv_out.weight' ? undefined : [n, s]));
    const vae = await loadVae(dir, { cacheDir: false });
    await expect(vae.decode(latents(), { tiled: false })).rejects.toThrow(/missing weight "decoder.conv_out.weight" \(expected f32 \[3,32,3,3\]\)/);
  });
});
