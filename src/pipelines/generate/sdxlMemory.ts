// The up-front memory check of an SDXL generation (generateSdxl and the workflow's KSampler alike): the
// estimate of models/checkpoint/memoryEstimate.ts against a budget, refused in milliseconds with the estimate
// when even one model resident at a time cannot fit. Every model the request adds counts: ControlNets (and
// their residuals), T2I-Adapters and LoRA files, from their file headers.
import type { SdxlCheckpoint } from '../../models/checkpoint/sdxlCheckpoint.ts';
import { chooseResidency, estimateMemory, type AddedModels, type MemoryEstimate } from '../../models/checkpoint/memoryEstimate.ts';
import { addedModels, type AddedModelUses } from '../memoryEstimate.ts';

export interface SdxlMemoryRequest {
  width?: number;
  height?: number;
  batch?: number;
  cfg?: number;
}

/** The memory estimate of a request on this checkpoint (with the models it adds). */
export function sdxlMemoryEstimate(ckpt: SdxlCheckpoint, req: SdxlMemoryRequest, added: AddedModels = {}): MemoryEstimate {
  return estimateMemory(
    { unetConfig: ckpt.unetConfig, vaeConfig: ckpt.vaeConfig, textConfigs: [ckpt.textG.config, ...(ckpt.textL ? [ckpt.textL.config] : [])], bytesPerWeight: ckpt.weightBytes, vaeScaleFactor: ckpt.vaeScaleFactor },
    { width: req.width ?? 1024, height: req.height ?? 1024, batch: req.batch ?? 1, cfg: req.cfg ?? 8 },
    added,
  );
}

/** Throws (CheckpointError, with the estimate) when the request cannot fit `budget` bytes even one model at a time. */
export function assertSdxlFits(ckpt: SdxlCheckpoint, req: Required<SdxlMemoryRequest>, budget: number, uses: AddedModelUses = {}): MemoryEstimate {
  const e = sdxlMemoryEstimate(ckpt, req, addedModels(uses));
  chooseResidency(e, budget, `SDXL ${req.width}×${req.height}, batch ${req.batch}${Math.abs(req.cfg - 1) > 1e-9 ? ' with CFG' : ''}`);
  return e;
}
