// How much memory an SDXL generation needs, before anything is compiled: the weights of each component
// (counted from the configs, 2 bytes each when the checkpoint stores fp16 — compiled models keep weight matrices
// f16, see storedAsF16) plus the activation peak of the UNet forward and of the VAE decode (tiled above 96²
// latents, so its peak is that of one 64² tile), and every model resident beside the checkpoint's own
// (ControlNets with their residuals, T2I-Adapters, LoRA files). The activation factors are measured
// (bench/sdxl.ts: peak RSS minus the weights of the SDXL UNet at 1024², batch 1 and 2), so this is an estimate
// with a margin, not a bound.
import { numel } from '../../graph/graph.ts';
import { storedAsF16 } from '../../graph/emitOnnx.ts';
import { buildUNetGraph } from '../unet/load.ts';
import { controlResidualShapes } from '../unet/unet.ts';
import { downsampleFactor, type UNetConfig } from '../unet/config.ts';
import { vaeDecodeGraph } from '../vae/decoder.ts';
import type { VaeConfig } from '../vae/config.ts';
import type { ClipTextConfig } from '../clip/config.ts';
import { clipTextGraph } from '../clip/textEncoder.ts';
import { CheckpointError } from './family.ts';

/**
 * Bytes of UNet activations per latent pixel per batch entry at the peak. Measured: SDXL base at 1024² b1 with
 * fp16-stored weights peaks at 6183 MB RSS (bench/sdxl.ts), of which 4897 MiB are weights and ~300 MB the
 * process, leaving ~1 GB for 128² latent pixels ≈ 64 KB each (batch 2: 6829 MB peak, ≈ 50 KB per pixel and
 * batch entry); 96 KB keeps a margin. With convolution kernels f32 (storedAsF16) b1 peaks at 6584 MB, of which
 * 5533 MiB weights: the same activations.
 */
export const UNET_ACTIVATION_BYTES_PER_LATENT_PIXEL = 96 * 1024;
/** Bytes of VAE decode activations per latent pixel of the decoded tile. */
export const VAE_ACTIVATION_BYTES_PER_LATENT_PIXEL = 256 * 1024;
/** Process baseline (node, onnxruntime, buffers). */
export const BASELINE_BYTES = 512 * 1024 * 1024;

export interface MemoryRequest {
  width: number;
  height: number;
  batch: number;
  /** CFG doubles the UNet batch. */
  cfg: number;
}

export interface MemoryModels {
  unetConfig: UNetConfig;
  vaeConfig: VaeConfig;
  textConfigs: readonly ClipTextConfig[];
  /** 2 for fp16-stored checkpoints, 4 for f32. */
  bytesPerWeight: number;
  /** Image pixels per latent pixel (8). */
  vaeScaleFactor: number;
}

/**
 * Models a request adds to the checkpoint's own, with the bytes their compiled weights hold (fp16 files stay
 * fp16, as for the checkpoint). Residency `one` does not release these: ControlNets stay loaded beside the UNet
 * for the whole sampling, adapters run while the text encoders are still loaded.
 */
export interface AddedModels {
  /** Each ControlNet's weights and its UNet-shaped config (for the residuals it hands the UNet every step). */
  controlNets?: readonly { weightBytes: number; unet: UNetConfig }[];
  /** Each T2I-Adapter's weights; adapters run one at a time, before sampling, and are released after. */
  adapterWeightBytes?: readonly number[];
  /** LoRA file bytes applied to the UNet / the text encoders: their factors are read while those weights merge. */
  loraBytes?: { unet: number; text: number };
}

export interface MemoryEstimate {
  unetWeights: number;
  textWeights: number;
  vaeWeights: number;
  unetActivations: number;
  vaeActivations: number;
  controlNetWeights: number;
  /** The residuals of every ControlNet for one UNet call (held until the UNet has added them). */
  controlNetResiduals: number;
  /** The largest adapter (they run one at a time). */
  adapterWeights: number;
  loraWeights: number;
  /** Everything resident at once (residency `all`). */
  allResident: number;
  /** Only the largest component at a time (residency `one`). */
  oneResident: number;
}

/** Bytes of a graph's parameters as compiled: 2 a weight where f16 storage keeps it f16 (not convolution kernels, nor small tensors), else 4. */
function compiledParamBytes(g: { params: Map<string, number>; values: { shape: readonly number[] }[] }, bytesPerWeight: number): number {
  return [...g.params.values()].reduce((n, id) => {
    const shape = g.values[id].shape;
    return n + numel(shape) * (bytesPerWeight === 2 && storedAsF16(shape) ? 2 : 4);
  }, 0);
}

/** The added models' terms of an estimate for a UNet batch on an lh × lw latent. */
export function addedModelBytes(added: AddedModels, unetBatch: number, lh: number, lw: number) {
  const controlNets = added.controlNets ?? [];
  const controlNetWeights = controlNets.reduce((n, c) => n + c.weightBytes, 0);
  // A ControlNet's own activations are at most the UNet's (it is the UNet's encoder half, run before it on the
  // same batch); what it adds to the UNet's peak is the residuals it hands over.
  const controlNetResiduals = controlNets.reduce((n, c) => {
    const r = controlResidualShapes(c.unet, unetBatch, lh, lw);
    return n + [...r.down, r.mid].reduce((k, s) => k + numel(s), 0) * 4;
  }, 0);
  const adapterWeights = Math.max(0, ...(added.adapterWeightBytes ?? []));
  return { controlNetWeights, controlNetResiduals, adapterWeights, lora: added.loraBytes ?? { unet: 0, text: 0 } };
}

export function estimateMemory(m: MemoryModels, req: MemoryRequest, added: AddedModels = {}): MemoryEstimate {
  const f = downsampleFactor(m.unetConfig);
  const unetWeights = compiledParamBytes(buildUNetGraph(m.unetConfig, { batch: 1, height: f, width: f, seqLen: 1 }), m.bytesPerWeight);
  const textWeights = m.textConfigs.reduce((n, c) => n + compiledParamBytes(clipTextGraph(c, { batch: 1, seqLen: 1 }), m.bytesPerWeight), 0);
  const vaeWeights = compiledParamBytes(vaeDecodeGraph(m.vaeConfig, [1, m.vaeConfig.latent_channels, 1, 1]), m.bytesPerWeight);
  const lh = Math.ceil(req.height / m.vaeScaleFactor);
  const lw = Math.ceil(req.width / m.vaeScaleFactor);
  const unetBatch = req.batch * (Math.abs(req.cfg - 1) > 1e-9 ? 2 : 1);
  const unetActivations = unetBatch * lh * lw * UNET_ACTIVATION_BYTES_PER_LATENT_PIXEL;
  // Tiled decode (auto above 96² latents) decodes one batch entry per 64² tile.
  const tileArea = lh * lw > 96 * 96 ? 64 * 64 : lh * lw;
  const vaeActivations = tileArea * req.batch * VAE_ACTIVATION_BYTES_PER_LATENT_PIXEL;
  const { controlNetWeights, controlNetResiduals, adapterWeights, lora } = addedModelBytes(added, unetBatch, lh, lw);
  const textPeak = textWeights + lora.text;
  const unetPeak = unetWeights + lora.unet + controlNetWeights + controlNetResiduals + unetActivations;
  const vaePeak = vaeWeights + vaeActivations;
  return {
    unetWeights, textWeights, vaeWeights, unetActivations, vaeActivations, controlNetWeights, controlNetResiduals, adapterWeights, loraWeights: lora.unet + lora.text,
    allResident: BASELINE_BYTES + unetWeights + textWeights + vaeWeights + controlNetWeights + adapterWeights + lora.unet + lora.text + Math.max(unetActivations + controlNetResiduals, vaeActivations),
    oneResident: BASELINE_BYTES + Math.max(unetPeak, vaePeak, textPeak + adapterWeights),
  };
}

const gb = (b: number) => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(1)} GB` : `${Math.ceil(b / 2 ** 20)} MB`);

/**
 * The residency that fits `budget` bytes: `all` when everything fits, else `one`; throws a CheckpointError with
 * the estimate when even one component at a time does not fit.
 */
export function chooseResidency(e: MemoryEstimate, budget: number, what: string): 'all' | 'one' {
  if (e.allResident <= budget) return 'all';
  if (e.oneResident <= budget) return 'one';
  const added = [
    e.controlNetWeights && `ControlNets ${gb(e.controlNetWeights)} + ${gb(e.controlNetResiduals)} residuals beside the UNet`,
    e.adapterWeights && `T2I-Adapter ${gb(e.adapterWeights)}`,
    e.loraWeights && `LoRAs ${gb(e.loraWeights)}`,
  ].filter(Boolean);
  throw new CheckpointError(
    `${what} needs about ${gb(e.oneResident)} even with one model resident at a time ` +
      `(UNet ${gb(e.unetWeights)} weights + ${gb(e.unetActivations)} activations, text encoders ${gb(e.textWeights)}, VAE ${gb(e.vaeWeights)} + ${gb(e.vaeActivations)}${added.map((a) => `, ${a}`).join('')}); ` +
      `the memory budget is ${gb(budget)}. Use a smaller image or batch, an fp16 checkpoint, fewer added models, or no CFG.`,
  );
}
