// The split UNet: Vanilla mode is exactly the plain UNet; LoRA only changes split modes; hints sit where
// DualCondUNet adds them; released-style LDM single files load (LoRA placement and ranks read from the keys).
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryWeights } from '../../graph/weights.ts';
import { compile } from '../../runtime/session.ts';
import { buildUNetGraph, ldmLayout } from '../unet/load.ts';
import { parseUNetConfig } from '../unet/config.ts';
import { SD21_CONFIG } from '../unet/testConfigs.ts';
import { diffusersToLdmUnetKey, LDM_UNET_PREFIX } from '../../weights/keymaps/ldmUnet.ts';
import { openSafetensors, writeSafetensors } from '../../weights/safetensors.ts';
import { buildColorizeUNetGraph, buildSketchEncoderGraph, colorizeDiffusionModel, colorizeDiffusionWeights, loraLayoutFromWeights, type ColorizeUNetShapes } from './colorizeModel.ts';
import { hintShapes } from './splitUNet.ts';
import { TINY_LORA, tinyColorizeWeights } from './tinyColorizeModel.ts';

const tmp = mkdtempSync(join(tmpdir(), 'inkflow-colorize-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296 - 0.5;
  };
}
const fill = (n: number, r: () => number, scale = 2) => Float32Array.from({ length: n }, () => r() * scale);
const maxAbs = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

const W = tinyColorizeWeights();
const shapes: ColorizeUNetShapes = { batch: 2, height: 8, width: 12, tokens: 7 };

function feeds(seed: number, opts: { zeroHints?: boolean } = {}): Record<string, Float32Array> {
  const r = rng(seed);
  const { batch: b, height: h, width: w } = shapes;
  const f: Record<string, Float32Array> = {
    sample: fill(b * 4 * h * w, r),
    timestep: Float32Array.from([901, 41]),
    context: fill(b * shapes.tokens * 24, r),
    sketch_mask: Float32Array.from({ length: b * h * w }, (_, i) => ((i % w) < w / 2 ? 0.9 : 0.01)),
  };
  hintShapes(W.config, b, h, w).forEach((s, k) => {
    f[`hint_${k}`] = opts.zeroHints ? new Float32Array(s.reduce((a, c) => a * c, 1)) : fill(s.reduce((a, c) => a * c, 1), r, 0.5);
  });
  return f;
}

describe('split UNet (ColorizeDiffusion DualCondUNet)', () => {
  it('vanilla with zero hints equals the plain UNet on the same weights', async () => {
    const f = feeds(1, { zeroHints: true });
    const plainG = buildUNetGraph(W.config, { batch: 2, height: 8, width: 12, seqLen: shapes.tokens });
    const plain = await compile(plainG, W.unet, { cacheDir: false });
    const model = colorizeDiffusionModel(W.config, W, { mode: 'vanilla' }, { cacheDir: false, lora: TINY_LORA });
    const a = (await plain.run({ sample: f.sample, timestep: f.timestep, encoder_hidden_states: f.context })).out_sample.data as Float32Array;
    const b = (await model.unet(shapes, { sample: f.sample, timestep: f.timestep, context: f.context, ...Object.fromEntries(Object.entries(f).filter(([k]) => k.startsWith('hint_'))) })).out;
    const err = maxAbs(a, b);
    console.log(`[split-unet] vanilla vs plain UNet max abs diff ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-5);
    await plain.release();
    await model.release();
  });

  it('fig2fig differs from fg_enhance and vanilla with non-zero LoRA; hints change the output', async () => {
    const f = feeds(2);
    const run = async (mode: 'vanilla' | 'fg_enhance' | 'fig2fig', fd = f) => {
      const m = colorizeDiffusionModel(W.config, W, { mode }, { cacheDir: false, lora: TINY_LORA });
      const names = buildColorizeUNetGraph(W.config, shapes, { mode }, TINY_LORA).inputNames();
      const out = (await m.unet(shapes, Object.fromEntries(names.map((n) => [n, fd[n]])))).out;
      await m.release();
      return out;
    };
    const [v, b2f, f2f, f2fNoHints] = [await run('vanilla'), await run('fg_enhance'), await run('fig2fig'), await run('fig2fig', feeds(2, { zeroHints: true }))];
    expect(maxAbs(v, f2f)).toBeGreaterThan(1e-3);
    expect(maxAbs(b2f, f2f)).toBeGreaterThan(1e-3);
    expect(maxAbs(f2f, f2fNoHints)).toBeGreaterThan(1e-3);
  });

  it('hint shapes at the SD2.1 config are LDM input_blocks 0, 3, 6, 9, 11 and the sketch encoder makes them', () => {
    const sd21 = parseUNetConfig(SD21_CONFIG);
    expect(hintShapes(sd21, 1, 96, 64)).toEqual([[1, 320, 96, 64], [1, 320, 48, 32], [1, 640, 24, 16], [1, 1280, 12, 8], [1, 1280, 12, 8]]);
    const enc = buildSketchEncoderGraph(sd21, 1, 96, 64);
    expect(enc.outputs.map((o) => [...enc.values[o.id].shape])).toEqual(hintShapes(sd21, 1, 96, 64));
    expect([...enc.params.keys()]).toContain('control_encoder.model.14.weight');
    expect([...enc.params.keys()]).toContain('control_encoder.output_blocks.3.3.weight');
    expect([...enc.params.keys()]).toContain('control_encoder.zero_blocks.0.0.weight');
    // LoRA keys of the released (LDM) layout map onto our names.
    expect(diffusersToLdmUnetKey('up_blocks.1.attentions.0.transformer_blocks.0.attn2.to_q.lora_down_fg.weight', ldmLayout(sd21)))
      .toBe('output_blocks.3.1.transformer_blocks.0.attn2.to_q.lora_down_fg.weight');
  });

  it('SD2.1-size graph declares fg rank 4 and bg rank ½·min(in,out) LoRA on to_q/to_k/to_v of up-path attn2 only', () => {
    const sd21 = parseUNetConfig(SD21_CONFIG);
    const g = buildColorizeUNetGraph(sd21, { batch: 1, height: 8, width: 8, tokens: 512 }, { mode: 'fig2fig' }, TINY_LORA);
    const shape = (n: string) => [...g.values[g.params.get(n)!].shape];
    const a = 'up_blocks.1.attentions.0.transformer_blocks.0.attn2';
    expect(shape(`${a}.to_q.lora_down_fg.weight`)).toEqual([4, 1280]);
    expect(shape(`${a}.to_k.lora_down_bg.weight`)).toEqual([512, 1024]); // min(1024, 1280) / 2
    expect(shape(`${a}.to_v.lora_up_bg.weight`)).toEqual([1280, 512]);
    const loraNames = [...g.params.keys()].filter((n) => n.includes('.lora_'));
    expect(loraNames.every((n) => n.startsWith('up_blocks.') && /attn2\.to_[qkv]\.lora_(down|up)_(fg|bg)\.weight$/.test(n))).toBe(true);
    expect(loraNames).toHaveLength(3 * 3 * 3 * 4); // 3 attention up levels × 3 layers × q/k/v × 4 matrices
  });

  it('loads an LDM single file (model.diffusion_model.* + control_encoder.*), reading LoRA placement and ranks', async () => {
    // Odd ranks on purpose: they must come from the file, not the defaults.
    const custom = { loraBlocks: ['up' as const], loraAt: (p: string) => p.startsWith('up_blocks.'), ranks: (_l: string, br: 'fg' | 'bg') => (br === 'fg' ? 3 : 5) };
    const ref = tinyColorizeWeights({ seed: 9 });
    const g = buildColorizeUNetGraph(ref.config, shapes, { mode: 'fig2fig' }, custom);
    const r = rng(4);
    const tensors: Record<string, Float32Array> = { ...ref.tensors };
    const shp: Record<string, number[]> = { ...ref.shapes };
    for (const [name, id] of g.params) {
      if (!name.includes('.lora_')) continue;
      const s = [...g.values[id].shape];
      tensors[name] = fill(s[0] * s[1], r, 0.6);
      shp[name] = s;
    }
    const layout = ldmLayout(ref.config);
    const fileKey = (n: string) => (n.startsWith('control_encoder.') ? n : LDM_UNET_PREFIX + diffusersToLdmUnetKey(n, layout)!);
    const path = join(tmp, 'colorize.safetensors');
    await writeSafetensors(path, [...g.params.keys(), ...Object.keys(ref.tensors).filter((n) => n.startsWith('control_encoder.'))].map((n) => ({
      name: fileKey(n), dtype: 'F32' as const, shape: shp[n], data: tensors[n],
    })));
    const reader = openSafetensors(path);
    try {
      const stores = colorizeDiffusionWeights(reader, ref.config);
      const lora = loraLayoutFromWeights(stores.unet, ref.config);
      expect(lora.loraBlocks).toEqual(['up']);
      expect(lora.ranks('up_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k', 'bg', 24, 32)).toBe(5);
      const fromFile = colorizeDiffusionModel(ref.config, stores, { mode: 'fig2fig' }, { cacheDir: false });
      const names = memoryWeights(tensors, shp);
      const fromMemory = colorizeDiffusionModel(ref.config, { unet: names, sketchEncoder: names }, { mode: 'fig2fig' }, { cacheDir: false, lora: custom });
      const f = feeds(5);
      const a = (await fromFile.unet(shapes, f)).out;
      const b = (await fromMemory.unet(shapes, f)).out;
      expect(maxAbs(a, b)).toBe(0);
      const sketch = fill(1 * 3 * 64 * 96, r);
      const ha = await fromFile.encodeSketch(1, 8, 12, sketch);
      const hb = await fromMemory.encodeSketch(1, 8, 12, sketch);
      expect(ha.map((t, k) => maxAbs(t, hb[k]))).toEqual([0, 0, 0]);
      await fromFile.release();
      await fromMemory.release();
    } finally {
      reader.close();
    }
  });

  it('refuses LoRA modes without LoRA weights, and files without a sketch encoder', async () => {
    const noLora = memoryWeights(Object.fromEntries(Object.entries(W.tensors).filter(([n]) => !n.includes('.lora_'))), W.shapes);
    expect(() => colorizeDiffusionModel(W.config, { unet: noLora, sketchEncoder: W.sketchEncoder }, { mode: 'fg_enhance' })).toThrow(/needs the split LoRA weights/);
    expect(colorizeDiffusionModel(W.config, { unet: noLora, sketchEncoder: W.sketchEncoder }, { mode: 'vanilla' }).lora.loraBlocks).toEqual([]);
    const path = join(tmp, 'plain.safetensors');
    await writeSafetensors(path, [{ name: 'model.diffusion_model.input_blocks.0.0.weight', dtype: 'F32', shape: [1], data: new Float32Array(1) }]);
    const reader = openSafetensors(path);
    expect(() => colorizeDiffusionWeights(reader, W.config)).toThrow(/not a ColorizeDiffusion checkpoint/);
    reader.close();
  });
});
