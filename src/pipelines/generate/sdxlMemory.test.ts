// The SDXL memory check counts every model a request brings, not only the checkpoint's: ControlNets (weights
// and the residuals they hand the UNet), T2I-Adapters and LoRA files, each from its file header. A budget that
// fits the checkpoint alone refuses the same request with a ControlNet, naming it, before any work.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImage } from '../../imaging/image.ts';
import { openControlNet, type ControlNetRunner } from '../../models/checkpoint/controlNetRunner.ts';
import { loadSdxlCheckpoint, type SdxlCheckpoint } from '../../models/checkpoint/sdxlCheckpoint.ts';
import { buildControlNetGraph } from '../../models/controlnet/load.ts';
import { numel } from '../../graph/graph.ts';
import { addedModels } from '../memoryEstimate.ts';
import { generateSdxl } from './sdxlGenerate.ts';
import { assertSdxlFits, sdxlMemoryEstimate } from './sdxlMemory.ts';
import { SDXL_GOLDEN, SDXL_TOKENIZER_DIR, writeTinySdxlControlNet, writeTinySdxlLora, writeTinyXlAdapter } from './tinySdxlCheckpoint.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-sdxl-mem-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// 1024² (128² latent) with CFG: the UNet phase is the peak (the VAE decodes 64² tiles), so what joins it shows.
const req = { width: 1024, height: 1024, batch: 1, cfg: 5 };

describe('SDXL memory check with added models (tiny SDXL)', () => {
  let ckpt: SdxlCheckpoint;
  let cn: ControlNetRunner;
  let adapter: string;
  let lora: string;
  const hint = createImage(64, 64, 3);

  beforeAll(async () => {
    ckpt = loadSdxlCheckpoint(SDXL_GOLDEN, { tokenizerDir: SDXL_TOKENIZER_DIR, cacheDir: false });
    cn = openControlNet(await writeTinySdxlControlNet(join(dir, 'cn')), { cacheDir: false });
    adapter = await writeTinyXlAdapter(join(dir, 'adapter'));
    lora = await writeTinySdxlLora(join(dir, 'lora.safetensors'));
  });
  afterAll(async () => {
    await cn?.release();
    await ckpt?.release();
  });

  it('a ControlNet adds its weights and its residuals (CFG batch, every down level and the mid block) to the UNet phase', () => {
    const g = buildControlNetGraph(cn.config, { batch: 1, height: 8, width: 8, seqLen: 77 });
    const params = [...g.params.values()].reduce((n, id) => n + numel(g.values[id].shape), 0);
    expect(cn.weightBytes).toBe(4 * params); // an f32 file: 4 bytes a weight
    const alone = sdxlMemoryEstimate(ckpt, req);
    const added = addedModels({ controls: [{ controlNet: cn, hint }, { controlNet: cn, hint, strength: 0.5 }] });
    expect(added.controlNets).toHaveLength(1); // the same ControlNet twice is loaded once
    const e = sdxlMemoryEstimate(ckpt, req, added);
    // Tiny SDXL (blocks 16/32, 2 layers a level, 128² latent): conv_in + 2 resnets at 128² and the downsample to
    // 64² (16 channels), 2 resnets and the mid block at 64² (32 channels); batch 2 for CFG; f32.
    const residuals = 2 * (16 * 128 * 128 * 3 + 16 * 64 * 64 + 32 * 64 * 64 * 3) * 4;
    expect(e.controlNetWeights).toBe(cn.weightBytes);
    expect(e.controlNetResiduals).toBe(residuals);
    expect(e.oneResident - alone.oneResident).toBe(cn.weightBytes + residuals);
    expect(e.allResident - alone.allResident).toBe(cn.weightBytes + residuals);
    // Strength 0 does not apply the ControlNet (ComfyUI returns the conditioning unchanged): nothing to load.
    expect(addedModels({ controls: [{ controlNet: cn, hint, strength: 0 }] }).controlNets).toEqual([]);
  });

  it('T2I-Adapters and LoRA files count from their headers', () => {
    const e0 = sdxlMemoryEstimate(ckpt, req);
    const withAdapter = sdxlMemoryEstimate(ckpt, req, addedModels({ adapters: [{ path: adapter }, { path: adapter, scale: 0 }] }));
    const adapterBytes = statSync(join(adapter, 'diffusion_pytorch_model.safetensors')).size;
    // The f32 tensors are the file less its header.
    expect(withAdapter.adapterWeights).toBeGreaterThan(adapterBytes * 0.9);
    expect(withAdapter.adapterWeights).toBeLessThan(adapterBytes);
    expect(withAdapter.allResident - e0.allResident).toBe(withAdapter.adapterWeights);
    const both = addedModels({ loras: [{ path: lora, strengthModel: 1, strengthClip: 1 }] });
    const unetOnly = addedModels({ loras: [{ path: lora, strengthModel: 1, strengthClip: 0 }] });
    expect(both.loraBytes!.unet).toBe(both.loraBytes!.text);
    expect(unetOnly.loraBytes).toEqual({ unet: both.loraBytes!.unet, text: 0 });
    expect(sdxlMemoryEstimate(ckpt, req, both).loraWeights).toBe(2 * both.loraBytes!.unet);
  });

  it('a budget that fits the checkpoint alone refuses the request with the ControlNet, naming it, before any work', async () => {
    const alone = sdxlMemoryEstimate(ckpt, req);
    expect(() => assertSdxlFits(ckpt, req, alone.oneResident)).not.toThrow();
    expect(() => assertSdxlFits(ckpt, req, alone.oneResident, { controls: [{ controlNet: cn, hint }] })).toThrow(/ControlNets \d+ MB \+ 10 MB residuals beside the UNet/);
    const steps: string[] = [];
    await expect(generateSdxl(ckpt, { prompt: 'x', seed: 1, steps: 1, ...req, controlNets: [{ controlNet: cn, hint }] }, { memoryBudgetBytes: alone.oneResident, onProgress: (p) => steps.push(p.stage) }))
      .rejects.toThrow(/SDXL 1024×1024, batch 1 with CFG needs about .* even with one model resident at a time \(.*ControlNets .* residuals beside the UNet\)/);
    expect(steps).toEqual([]);
  });
});
