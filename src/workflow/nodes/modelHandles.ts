// MODEL, CLIP and VAE values: a loaded checkpoint plus what loader nodes stacked on it (LoRAs, clip skip,
// a prediction override). A LoRA-merged view is made for the node that uses it and released after.
import { loadCheckpoint, type Checkpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import type { LoraSpec } from '../../models/checkpoint/loras.ts';
import type { PredictionType } from '../../models/predictionType.ts';
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

/** Runs `fn` on the checkpoint with the handle's LoRAs merged (a view released afterwards). */
export async function withLoraView<T>(h: { base: Checkpoint; loras: readonly LoraSpec[] }, fn: (c: Checkpoint) => Promise<T>): Promise<T> {
  const view = h.loras.length ? h.base.withLoras(h.loras) : h.base;
  try {
    return await fn(view);
  } finally {
    if (view !== h.base) await view.release();
  }
}
