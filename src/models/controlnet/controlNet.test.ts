import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goldenRoot } from '../../../test/golden/io.ts';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../../weights/safetensors.ts';
import { diffusersToLdmControlNetKey, LDM_CONTROLNET_PREFIX } from '../../weights/keymaps/ldmControlnet.ts';
import { f32ToF16Array } from '../../weights/dtype.ts';
import { loadUNet } from '../unet/load.ts';
import { controlResidualShapes } from '../unet/unet.ts';
import { SD15_CONFIG, SD21_CONFIG } from '../unet/testConfigs.ts';
import { inferControlNetConfig } from './inferConfig.ts';
import { ControlNetConfigError, hintScale, parseControlNetConfig } from './config.ts';
import { buildControlNetGraph, loadControlNet, openControlNetCheckpoint, type ControlNetForwardInputs } from './load.ts';
import { buildControlNet, guessModeScales, ControlNetShapeError } from './controlNet.ts';
import { createGraph } from '../../graph/graph.ts';

const dir = join(goldenRoot, 'controlnet/cn_c16_16_32_32');
const weightsFile = join(dir, 'diffusion_pytorch_model.safetensors');
const configJson = () => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
const f32 = (name: string) => {
  const b = readFileSync(join(dir, name));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const SHAPES = { batch: 2, height: 8, width: 8, seqLen: 77, cacheDir: false as const };
const inputs = (scale = 1): ControlNetForwardInputs => ({
  sample: f32('in_sample.bin'), encoderHiddenStates: f32('in_encoder_hidden_states.bin'), cond: f32('in_controlnet_cond.bin'), timestep: 500, scale,
});

/** Rewrites the golden diffusers weights under other names (undefined drops a tensor). */
async function rewrite(path: string, rename: (name: string) => string | undefined, extra: TensorToWrite[] = []) {
  const r = openSafetensors(weightsFile);
  const out: TensorToWrite[] = [...extra];
  for (const info of r.tensors.values()) {
    const to = rename(info.name);
    if (to) out.push({ name: to, dtype: 'F32', shape: info.shape, data: r.readF32(info.name) });
  }
  r.close();
  await writeSafetensors(path, out);
}

const LAYOUT = { layersPerBlock: [1, 1], conditioningStages: 4 };
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'inkflow-controlnet-'));
});

describe('ControlNet config', () => {
  it('reads the golden config: trunk through the UNet schema, hint encoder ×8', () => {
    const c = parseControlNetConfig(configJson());
    expect(c.unet.down.map((d) => [d.type, d.outChannels, d.layers, d.heads])).toEqual([['CrossAttnDownBlock2D', 32, 1, 8], ['DownBlock2D', 64, 1, 8]]);
    expect(c.embeddingOutChannels).toEqual([16, 16, 32, 32]);
    expect(hintScale(c)).toBe(8);
    expect(c.channelOrder).toBe('rgb');
    expect(c.globalPoolConditions).toBe(false);
  });

  it('refuses other classes, bad fields and unsupported trunk settings, naming them', () => {
    expect(() => parseControlNetConfig({ ...configJson(), _class_name: 'UNet2DConditionModel' })).toThrow(/_class_name .*"ControlNetModel"/);
    expect(() => parseControlNetConfig({ ...configJson(), controlnet_conditioning_channel_order: 'grb' })).toThrow(ControlNetConfigError);
    expect(() => parseControlNetConfig({ ...configJson(), act_fn: 'gelu' })).toThrow(/act_fn/);
    expect(() => parseControlNetConfig({ ...configJson(), block_out_channels: [32, 64, 64] })).toThrow(/ControlNet config: down_block_types has 2 entries/);
    expect(() => parseControlNetConfig([])).toThrow(/JSON object/);
  });
});

describe('ControlNet graph', () => {
  it('guess mode scales are torch.logspace(-1, 0, n) in float32', () => {
    expect(Array.from(guessModeScales(5))).toEqual([0.1, 0.17782794, 0.31622776, 0.56234133, 1].map(Math.fround));
    expect(guessModeScales(13)[12]).toBe(1);
    expect(guessModeScales(13)[0]).toBe(Math.fround(0.1));
  });

  it('names the expected hint size when the hint does not fit the latent', () => {
    const c = parseControlNetConfig(configJson());
    const g = createGraph('t');
    const ins = {
      sample: g.input('sample', 'f32', [1, 4, 8, 8]), timestep: g.input('t', 'f32', [1]), encoderHiddenStates: g.input('ehs', 'f32', [1, 5, 32]),
      scale: g.input('scale', 'f32', [1]), cond: g.input('cond', 'f32', [1, 3, 16, 16]),
    };
    expect(() => buildControlNet(g, c, ins)).toThrow(ControlNetShapeError);
    expect(() => buildControlNet(g, c, ins)).toThrow(/hint image must be \[1,3,64,64\] \(8× the latent \[8,8\]\), got \[1,3,16,16\]/);
    expect(() => buildControlNet(g, c, { ...ins, encoderHiddenStates: g.input('bad', 'f32', [1, 5, 16]) })).toThrow(/encoder_hidden_states must be \[1,L,32\]/);
    // A two-stage hint encoder wants 2× the latent, non-square too.
    const c2 = parseControlNetConfig({ ...configJson(), conditioning_embedding_out_channels: [16, 32] });
    const g2 = buildControlNetGraph(c2, { batch: 1, height: 8, width: 6, seqLen: 4 });
    expect(g2.values[g2.inputs[3]].shape).toEqual([1, 3, 16, 12]);
  });

  it('bgr channel order and global pooling change the outputs the documented way', async () => {
    const bgr = await loadControlNet(dir, { ...SHAPES, config: { ...configJson(), controlnet_conditioning_channel_order: 'bgr' } });
    const pooled = await loadControlNet(dir, { ...SHAPES, config: { ...configJson(), global_pool_conditions: true } });
    try {
      // Flipping the hint's channels by hand and running "bgr" gives the plain model's output.
      const cond = f32('in_controlnet_cond.bin');
      const flipped = new Float32Array(cond.length);
      const plane = 64 * 64;
      for (let b = 0; b < 2; b++) for (let c = 0; c < 3; c++) flipped.set(cond.subarray((b * 3 + c) * plane, (b * 3 + c + 1) * plane), (b * 3 + 2 - c) * plane);
      const out = await bgr.forward({ ...inputs(), cond: flipped });
      expect(maxAbs(out.mid, f32('t500__mid.bin'))).toBeLessThan(1e-4);
      // Pooled residuals are constant over each channel's plane and equal the plane mean of the plain one.
      const p = await pooled.forward(inputs());
      const mid = f32('t500__mid.bin');
      for (const ch of [0, 17, 127]) {
        const plane16 = mid.subarray(ch * 16, ch * 16 + 16);
        const mean = plane16.reduce((s, v) => s + v, 0) / 16;
        for (let i = 0; i < 16; i++) expect(p.mid[ch * 16 + i]).toBeCloseTo(mean, 4);
      }
    } finally {
      await bgr.release();
      await pooled.release();
    }
  });
});

describe('ControlNet at SD sizes', () => {
  /** A ControlNetModel config.json made from a UNet one, as ControlNetModel.from_unet does. */
  const fromUnet = (u: Record<string, unknown>) => {
    const { up_block_types: _up, out_channels: _out, sample_size: _s, ...rest } = u;
    return { ...rest, _class_name: 'ControlNetModel', conditioning_embedding_out_channels: [16, 32, 96, 256] };
  };
  for (const [name, unet] of [['SD1.5', SD15_CONFIG], ['SD2.1', SD21_CONFIG]] as const) {
    it(`${name}: 12 residuals in the UNet's skip shapes, hint 512², and the shape rules re-derive the config`, () => {
      const c = parseControlNetConfig(fromUnet(unet));
      const g = buildControlNetGraph(c, { batch: 2, height: 64, width: 64, seqLen: 77 });
      expect(g.values[g.inputs[3]].shape).toEqual([2, 3, 512, 512]);
      const want = controlResidualShapes(c.unet, 2, 64, 64);
      expect(g.outputs.map((o) => o.name)).toEqual([...want.down.map((_, k) => `down_residual_${k}`), 'mid_residual']);
      expect(g.outputs.map((o) => g.values[o.id].shape)).toEqual([...want.down, want.mid]);
      expect(want.down.length).toBe(12);
      // Config inference from the parameter shapes alone gives the same structure (heads by the SD rules).
      const shapes = new Map([...g.params].map(([n, id]) => [n, g.values[id].shape]));
      const inferred = inferControlNetConfig((n) => shapes.get(n), name);
      expect(inferred.unet.down).toEqual(c.unet.down);
      expect(inferred.unet.mid).toEqual(c.unet.mid);
      expect(inferred.unet.useLinearProjection).toBe(c.unet.useLinearProjection);
      expect(inferred.embeddingOutChannels).toEqual([16, 32, 96, 256]);
    });
  }
});

describe('ControlNet loading', () => {
  it('loads an LDM control_model.* single file (key map + explicit config) with the golden numbers', async () => {
    const file = join(tmp, 'control_tiny.safetensors');
    await rewrite(file, (n) => LDM_CONTROLNET_PREFIX + diffusersToLdmControlNetKey(n, LAYOUT));
    const cn = await loadControlNet(file, { ...SHAPES, config: configJson() });
    try {
      expect(cn.source.layout).toBe('ldm');
      expect(cn.unusedKeys).toEqual([]);
      const out = await cn.forward(inputs());
      for (let k = 0; k < 4; k++) expect(maxAbs(out.down[k], f32(`t500__down_${k}.bin`)), `down_${k}`).toBeLessThan(1e-4);
      expect(maxAbs(out.mid, f32('t500__mid.bin'))).toBeLessThan(1e-4);
      // Strength is an input: a new scale needs no new session.
      const half = await cn.forward(inputs(0.5));
      expect(maxAbs(half.mid, f32('t500_scale0p5__mid.bin'))).toBeLessThan(1e-4);
    } finally {
      await cn.release();
    }
  });

  it('loads fp16-stored LDM files (ComfyUI *_fp16.safetensors), converting on read', async () => {
    const r = openSafetensors(weightsFile);
    const out: TensorToWrite[] = [...r.tensors.values()].map((t) => ({
      name: LDM_CONTROLNET_PREFIX + diffusersToLdmControlNetKey(t.name, LAYOUT), dtype: 'F16', shape: t.shape, data: f32ToF16Array(r.readF32(t.name)),
    }));
    r.close();
    const file = join(tmp, 'control_tiny_fp16.safetensors');
    await writeSafetensors(file, out);
    const cn = await loadControlNet(file, { ...SHAPES, config: configJson() });
    try {
      const res = await cn.forward(inputs());
      const err = maxAbs(res.mid, f32('t500__mid.bin'));
      console.log(`[controlnet fp16 weights] mid max abs err vs f32 golden ${err.toExponential(3)}`);
      expect(err).toBeLessThan(2e-2); // fp16 weight rounding (~5e-4 relative), not a mapping error
      expect(err).toBeGreaterThan(0);
    } finally {
      await cn.release();
    }
  });

  it('infers the structure of prefix-less LDM files and of diffusers files without config.json', async () => {
    const ldm = join(tmp, 'control_noprefix.safetensors');
    await rewrite(ldm, (n) => diffusersToLdmControlNetKey(n, LAYOUT));
    const lone = join(tmp, 'lone', 'cn.safetensors');
    mkdirSync(join(tmp, 'lone'));
    copyFileSync(weightsFile, lone);
    for (const path of [ldm, lone]) {
      const ck = openControlNetCheckpoint(path);
      ck.reader.close();
      const c = ck.config;
      expect(c.unet.down.map((d) => [d.type, d.inChannels, d.outChannels, d.layers, d.attention]), path).toEqual([['CrossAttnDownBlock2D', 32, 32, 1, true], ['DownBlock2D', 32, 64, 1, false]]);
      expect(c.unet.crossAttentionDim).toBe(32);
      expect(c.unet.useLinearProjection).toBe(false);
      expect(c.conditioningChannels).toBe(3);
      expect(c.embeddingOutChannels).toEqual([16, 16, 32, 32]);
      expect(ck.layout).toBe(path === ldm ? 'ldm' : 'diffusers');
    }
  });

  it('uses a ControlNetModel config.json beside a single file', async () => {
    mkdirSync(join(tmp, 'beside'));
    copyFileSync(weightsFile, join(tmp, 'beside', 'my_controlnet.safetensors'));
    copyFileSync(join(dir, 'config.json'), join(tmp, 'beside', 'config.json'));
    const ck = openControlNetCheckpoint(join(tmp, 'beside', 'my_controlnet.safetensors'));
    ck.reader.close();
    expect(ck.config.unet.down[0].heads).toBe(8); // from the config, not the shape rule (which would say 8 and 1)
    expect(ck.config.unet.mid.heads).toBe(8);
  });

  it('fails with messages naming the problem', async () => {
    // A missing tensor: the message names the key and the expected shape.
    const missing = join(tmp, 'missing.safetensors');
    await rewrite(missing, (n) => (n === 'controlnet_down_blocks.2.weight' ? undefined : n));
    await expect(loadControlNet(missing, { ...SHAPES, config: configJson() })).rejects.toThrow(/controlnet_down_blocks\.2\.weight.*\[32,32,1,1\]/);
    // A wrong shape.
    const wrong = join(tmp, 'wrong.safetensors');
    await rewrite(wrong, (n) => (n === 'controlnet_mid_block.bias' ? undefined : n), [{ name: 'controlnet_mid_block.bias', dtype: 'F32', shape: [32], data: new Float32Array(32) }]);
    await expect(loadControlNet(wrong, { ...SHAPES, config: configJson() })).rejects.toThrow(/controlnet_mid_block\.bias.*\[32\].*expected \[64\]/);
    // Extra tensors in a diffusers file mean the config does not describe it.
    const extra = join(tmp, 'extra.safetensors');
    await rewrite(extra, (n) => n, [{ name: 'controlnet_down_blocks.9.weight', dtype: 'F32', shape: [1], data: new Float32Array(1) }]);
    await expect(loadControlNet(extra, { ...SHAPES, config: configJson() })).rejects.toThrow(/controlnet_down_blocks\.9\.weight/);
    // Not a ControlNet at all.
    await expect(loadControlNet(join(goldenRoot, 'models/vae_tiny/weights.safetensors'), SHAPES)).rejects.toThrow(/holds no ControlNet weights/);
    await expect(loadControlNet(join(goldenRoot, 'models/t2i_adapter_tiny/weights.safetensors'), SHAPES)).rejects.toThrow(/T2I-Adapter/);
    await expect(loadControlNet(join(tmp, 'nope'), SHAPES)).rejects.toThrow(/does not exist/);
    const ckpt = join(tmp, 'control.ckpt');
    writeFileSync(ckpt, Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00]));
    await expect(loadControlNet(ckpt, SHAPES)).rejects.toThrow(/pickle|convert/i);
    await expect(loadControlNet(dir, { ...SHAPES, batch: 0 })).rejects.toThrow(/batch must be a positive integer/);
    // An LDM file whose given config disagrees with its structure.
    const ldm = join(tmp, 'control_tiny_cfg.safetensors');
    await rewrite(ldm, (n) => LDM_CONTROLNET_PREFIX + diffusersToLdmControlNetKey(n, LAYOUT));
    await expect(loadControlNet(ldm, { ...SHAPES, config: { ...configJson(), layers_per_block: 2 } })).rejects.toThrow(/does not match the file/);
  });

  it('checks forward inputs', async () => {
    const cn = await loadControlNet(dir, SHAPES);
    try {
      await expect(cn.forward({ ...inputs(), cond: new Float32Array(10) })).rejects.toThrow(/controlnet_cond has 10 values, expected \[2,3,64,64\]/);
      await expect(cn.forward({ ...inputs(), scale: [1, 2, 3] })).rejects.toThrow(/3 conditioning scale values for a batch of 2/);
      await expect(cn.forward({ ...inputs(), textEmbeds: new Float32Array(4) })).rejects.toThrow(/no such input/);
    } finally {
      await cn.release();
    }
  });
});

describe('ControlNet residuals in the tiny UNet', () => {
  const unetDir = join(goldenRoot, 'models/unet_tiny');
  it('change its output, and scale 0 gives exactly the UNet without ControlNet', async () => {
    const cn = await loadControlNet(dir, SHAPES);
    const plain = await loadUNet(unetDir, { ...SHAPES });
    const controlled = await loadUNet(unetDir, { ...SHAPES, controlNet: true });
    try {
      const x = inputs();
      const base = { sample: x.sample, encoderHiddenStates: x.encoderHiddenStates, timestep: [500, 500] };
      const ref = await plain.forward(base);
      const full = await cn.forward(x);
      const withCn = await controlled.forward({ ...base, downResiduals: full.down, midResidual: full.mid });
      const changed = maxAbs(withCn, ref);
      console.log(`[controlnet→unet] max |with ControlNet − without| = ${changed.toExponential(3)}`);
      expect(changed).toBeGreaterThan(1e-2);
      const zero = await cn.forward({ ...x, scale: 0 });
      const withZero = await controlled.forward({ ...base, downResiduals: zero.down, midResidual: zero.mid });
      const diff = maxAbs(withZero, ref);
      console.log(`[controlnet→unet] scale 0: max |with − without| = ${diff}`);
      expect(diff).toBe(0);
      // Per-sample strength: sample 0 at 1, sample 1 at 0.
      const mixed = await cn.forward({ ...x, scale: [1, 0] });
      const withMixed = await controlled.forward({ ...base, downResiduals: mixed.down, midResidual: mixed.mid });
      const n = withMixed.length / 2;
      expect(maxAbs(withMixed.subarray(0, n), withCn.subarray(0, n))).toBe(0);
      expect(maxAbs(withMixed.subarray(n), ref.subarray(n))).toBe(0);
    } finally {
      await Promise.all([cn.release(), plain.release(), controlled.release()]);
    }
  });
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));
