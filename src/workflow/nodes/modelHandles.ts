// MODEL, CLIP and VAE values: a loaded checkpoint plus what loader nodes stacked on it (LoRAs, clip skip,
// a prediction override). A LoRA-merged view is made for the node that uses it and released after.
import { loadCheckpoint, type Checkpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import type { LoraSpec } from '../../models/checkpoint/loras.ts';
import type { PredictionType } from '../../models/predictionType.ts';
import type { LoraReport } from '../../weights/lora.ts';
import type { NodeContext } from '../nodeSpec.ts';

export interface ModelHandle {
  base: Checkpoint;
  loras: readonly LoraSpec[];
  prediction?: PredictionType;
}

export interface ClipHandle {
  base: Checkpoint;
  loras: readonly LoraSpec[];
  /** 1 = last layer (CLIPSetLastLayer −1). */
  clipSkip: number;
}

export interface VaeHandle {
  base: Checkpoint;
}

/** The checkpoint at `path`, opened once per executor (until /free unloads models). */
export function openCheckpoint(ctx: NodeContext, path: string): Promise<Checkpoint> {
  const { env } = ctx;
  return ctx.models.get(`checkpoint:${path}`, () => loadCheckpoint(path, {
    provider: env.device ?? 'cpu', residency: 'one', tokenizerDir: env.tokenizerDir, embeddingsDirs: env.modelDirs.embeddings ?? [],
  }), (c) => c.release());
}

/** What the LoRAs of a view did (weights patched, modules that matched nothing), as UI output. */
export type LoraUi = { lora_report: { applied: { path: string }[]; unet?: LoraReport; text?: LoraReport }[] };

/**
 * Runs `fn` on the checkpoint with the handle's LoRAs merged (a view released afterwards); with LoRAs,
 * also returns their report for the part `fn` used.
 */
export async function withLoraView<T>(h: { base: Checkpoint; loras: readonly LoraSpec[] }, part: 'unet' | 'text', fn: (c: Checkpoint) => Promise<T>): Promise<{ value: T; ui?: LoraUi }> {
  const view = h.loras.length ? h.base.withLoras(h.loras) : h.base;
  try {
    const value = await fn(view);
    if (view === h.base) return { value };
    const report = view.loraReport()[part];
    return { value, ui: { lora_report: [{ applied: h.loras.map((l) => ({ path: l.path })), ...(report ? { [part]: report } : {}) }] } };
  } finally {
    if (view !== h.base) await view.release();
  }
}
