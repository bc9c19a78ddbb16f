// Will a generation fit in memory? Estimated before anything is compiled or sampled, so
// `--width 16384 --height 16384` is refused in milliseconds with the estimate and the limit, instead of
// swapping or being killed after minutes. The estimate is deliberately simple and errs high: every
// component's weights resident at once (fp16 files stay fp16 in the compiled model, others run as f32),
// every model the request adds (ControlNets with their residuals, T2I-Adapters, LoRA files), the largest
// UNet attention score matrices (ORT's CPU attention materialises B×heads×S×S), a working set of conv
// activations per level, and the VAE decoder at full resolution (tiled above 96² latents,
// as VaeModel.decode does by default). SD1.5 fp32, CFG: 512² ≈ 6 GB, 768² ≈ 12 GB, 1024² ≈ 23 GB.
import type { Checkpoint, CheckpointComponent } from '../models/checkpoint/loadCheckpoint.ts';
import { compiledWeightBytes } from '../weights/compiledWeightBytes.ts';
import { openSafetensors } from '../weights/safetensors.ts';
import { t2iAdapterWeightBytes } from '../models/checkpoint/adapterRunner.ts';
import type { LoraSpec } from '../models/checkpoint/loras.ts';
import { addedModelBytes, type AddedModels } from '../models/checkpoint/memoryEstimate.ts';
import type { ControlNetUse } from './generate/controlNet.ts';

export interface GenerationSize {
  width: number;
  height: number;
  /** Images per call. */
  batch: number;
  /** cfg ≠ 1 runs the UNet on a doubled batch (positive and negative). */
  cfg: number;
  /** Conditioning length after alignment (77 per window). */
  tokens?: number;
}

export interface MemoryEstimate {
  bytes: number;
  /** Named terms, bytes each (weights, unetAttention, unetActivations, vaeDecode). */
  parts: Record<string, number>;
}

export class MemoryLimitError extends Error {
  override name = 'MemoryLimitError';
  constructor(
    readonly estimate: MemoryEstimate,
    readonly limit: number,
    what: string,
  ) {
    const parts = Object.entries(estimate.parts).map(([k, v]) => `${k} ${gb(v)}`).join(', ');
    super(`${what} needs about ${gb(estimate.bytes)} of memory (${parts}), over the ${gb(limit)} available (use a smaller size or batch, or set INKFLOW_MAX_MEMORY_BYTES if the estimate is wrong for your machine)`);
  }
}

const gb = (b: number) => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(b >= 2 ** 40 ? 0 : 1)} GB` : `${Math.ceil(b / 2 ** 20)} MB`);

/** Bytes a process may still use: INKFLOW_MAX_MEMORY_BYTES, else what Node reports (cgroup limits included). */
export function availableMemory(): number {
  const env = Number(process.env.INKFLOW_MAX_MEMORY_BYTES);
  if (Number.isFinite(env) && env > 0) return env;
  return process.availableMemory();
}

/** Bytes of a component's weights as the compiled model holds them (fp16 stays fp16, the rest f32), from the file headers. */
function weightBytes(ckpt: Checkpoint, component: CheckpointComponent): number {
  return ckpt.weightFiles(component).reduce((n, f) => n + compiledWeightBytes(f.reader, f.prefix ?? ''), 0);
}

/** What a request brings beside the checkpoint: ControlNets (each counted once), adapters by path, LoRAs. */
export interface AddedModelUses {
  controls?: readonly ControlNetUse[];
  adapters?: readonly { path: string; scale?: number }[];
  loras?: readonly LoraSpec[];
}

/** The added models' compiled sizes; a model used twice (both prompts, two strengths) is loaded once. */
export function addedModels(uses: AddedModelUses): AddedModels {
  const nets = [...new Set((uses.controls ?? []).filter((u) => (u.strength ?? 1) !== 0).map((u) => u.controlNet))];
  const adapterPaths = [...new Set((uses.adapters ?? []).filter((a) => (a.scale ?? 1) !== 0).map((a) => a.path))];
  const loraBytes = { unet: 0, text: 0 };
  for (const l of uses.loras ?? []) {
    const r = openSafetensors(l.path);
    const bytes = compiledWeightBytes(r);
    r.close();
    if (l.strengthModel !== 0) loraBytes.unet += bytes;
    if (l.strengthClip !== 0) loraBytes.text += bytes;
  }
  return { controlNets: nets.map((c) => ({ weightBytes: c.weightBytes, unet: c.config.unet })), adapterWeightBytes: adapterPaths.map(t2iAdapterWeightBytes), loraBytes };
}

const F32 = 4;
/** Live conv activations per UNet level, in units of one [B, C, h, w] tensor (skips, norms, residuals). */
const LIVE_TENSORS_PER_LEVEL = 12;
/** VAE decode: live [C, H, W] tensors at full resolution. */
const LIVE_VAE_TENSORS = 6;
const VAE_TILE_LATENT = 96;

export function estimateGenerationMemory(ckpt: Checkpoint, size: GenerationSize, added: AddedModels = {}): MemoryEstimate {
  const f = ckpt.vaeScaleFactor;
  const b = size.batch * (size.cfg !== 1 ? 2 : 1);
  const tokens = size.tokens ?? 77;
  let h = Math.ceil(size.height / f);
  let w = Math.ceil(size.width / f);
  let attention = 0;
  let activations = 0;
  const cfg = ckpt.unetConfig;
  cfg.down.forEach((level) => {
    const hw = h * w;
    activations += LIVE_TENSORS_PER_LEVEL * b * level.outChannels * hw * F32;
    if (level.attention) attention = Math.max(attention, b * level.heads * (hw * hw + hw * tokens) * F32);
    if (level.downsample) {
      h = Math.ceil(h / 2);
      w = Math.ceil(w / 2);
    }
  });
  const weights = weightBytes(ckpt, 'unet') + weightBytes(ckpt, 'vae') + weightBytes(ckpt, 'text');
  // VAE: decoded one image at a time, tiled above 96² latents (VaeModel.decode 'auto').
  const tile = Math.min(size.height, VAE_TILE_LATENT * f) * Math.min(size.width, VAE_TILE_LATENT * f);
  const latentTile = tile / (f * f);
  const vaeDecode = LIVE_VAE_TENSORS * ckpt.vaeConfig.block_out_channels[0] * tile * F32 + latentTile * latentTile * F32;
  const images = size.batch * size.width * size.height * 3 * (F32 + 1);
  const { controlNetWeights, controlNetResiduals, adapterWeights, lora } = addedModelBytes(added, b, Math.ceil(size.height / f), Math.ceil(size.width / f));
  const extra = { controlNets: controlNetWeights, controlNetResiduals, adapter: adapterWeights, loras: lora.unet + lora.text };
  const parts = { weights, unetAttention: attention, unetActivations: activations, vaeDecode, images, ...Object.fromEntries(Object.entries(extra).filter(([, v]) => v > 0)) };
  return { bytes: Object.values(parts).reduce((a, v) => a + v, 0), parts };
}

/** Throws MemoryLimitError when the estimate exceeds `limit`. */
export function assertGenerationFits(ckpt: Checkpoint, size: GenerationSize, limit = availableMemory(), uses: AddedModelUses = {}): MemoryEstimate {
  const est = estimateGenerationMemory(ckpt, size, addedModels(uses));
  if (est.bytes > limit) throw new MemoryLimitError(est, limit, `a ${size.width}×${size.height} generation of ${size.batch} image${size.batch === 1 ? '' : 's'}`);
  return est;
}
