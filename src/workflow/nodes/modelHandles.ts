// MODEL, CLIP and VAE values: a loaded checkpoint (SD1/SD2 or SDXL) plus what loader nodes stacked on it
// (LoRAs, clip skip, a prediction override). A LoRA-merged view is made for the node that uses it and
// released after.
import { basename } from 'node:path';
import { loadCheckpoint, type Checkpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import { isSdxlCheckpoint, loadSdxlCheckpoint, type SdxlCheckpoint } from '../../models/checkpoint/sdxlCheckpoint.ts';
import { mergeTowerReports } from '../../pipelines/generate/sdxlGenerate.ts';
import type { LoraSpec } from '../../models/checkpoint/loras.ts';
import type { PredictionType } from '../../models/predictionType.ts';
import type { LoraReport } from '../../weights/lora.ts';
import type { NodeContext } from '../nodeSpec.ts';

/** What CheckpointLoaderSimple opened: an SD1/SD2 checkpoint or an SDXL one (family 'sdxl'). */
export type AnyCheckpoint = Checkpoint | SdxlCheckpoint;

export const isSdxl = (c: AnyCheckpoint): c is SdxlCheckpoint => c.family === 'sdxl';

export interface ModelHandle {
  base: AnyCheckpoint;
  loras: readonly LoraSpec[];
  prediction?: PredictionType;
}

export interface ClipHandle {
  base: AnyCheckpoint;
  loras: readonly LoraSpec[];
  /** 1 = last layer (CLIPSetLastLayer −1). */
  clipSkip: number;
}

export interface VaeHandle {
  base: AnyCheckpoint;
}

/** The checkpoint at `path`, opened once per executor (until /free unloads models). */
export function openCheckpoint(ctx: NodeContext, path: string): Promise<AnyCheckpoint> {
  const { env } = ctx;
  const int8 = (env.int8Models ?? []).some((m) => m === '*' || path === m || basename(path) === m);
  const opts = { provider: env.device ?? 'cpu', residency: 'one', tokenizerDir: env.tokenizerDir, embeddingsDirs: env.modelDirs.embeddings ?? [], ...(int8 ? { precision: 'int8' as const } : {}) } as const;
  return ctx.models.get<AnyCheckpoint>(`checkpoint:${path}${int8 ? ':int8' : ''}`, () => (isSdxlCheckpoint(path) ? loadSdxlCheckpoint(path, opts) : loadCheckpoint(path, opts)), (c) => c.release());
}

/** What the LoRAs of a view did (weights patched, modules that matched nothing), as UI output. */
export type LoraUi = { lora_report: { applied: { path: string }[]; unet?: LoraReport; text?: LoraReport }[] };

/**
 * Runs `fn` (SD1/SD2) or `fnXl` (SDXL) on the checkpoint with the handle's LoRAs merged (a view released
 * afterwards); with LoRAs, also returns their report for the part used. A node without `fnXl` refuses SDXL.
 */
export async function withLoraView<T>(
  h: { base: AnyCheckpoint; loras: readonly LoraSpec[] }, part: 'unet' | 'text',
  fn: (c: Checkpoint) => Promise<T>, fnXl?: (c: SdxlCheckpoint) => Promise<T>,
): Promise<{ value: T; ui?: LoraUi }> {
  const base = h.base;
  if (isSdxl(base) && !fnXl) throw new Error(`${base.path} is an SDXL checkpoint: this node supports SD1/SD2 checkpoints only`);
  const view: AnyCheckpoint = h.loras.length ? base.withLoras(h.loras) : base;
  try {
    const value = isSdxl(view) ? await fnXl!(view) : await fn(view);
    if (view === base) return { value };
    const report = isSdxl(view) ? (part === 'unet' ? view.loraReport().unet : mergeTowerReports(view.loraReport().te1, view.loraReport().te2)) : view.loraReport()[part];
    return { value, ui: { lora_report: [{ applied: h.loras.map((l) => ({ path: l.path })), ...(report ? { [part]: report } : {}) }] } };
  } finally {
    if (view !== h.base) await view.release();
  }
}
