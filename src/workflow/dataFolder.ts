// A ComfyUI-style data folder as a WorkflowEnv: input/, output/, temp/, models/<kind>/, plus optionally
// an existing ComfyUI or A1111 models folder searched too (so nobody copies gigabytes).
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { imageLimits } from '../imaging/limits.ts';
import { bundledModelFolders } from '../models/bundledModels.ts';
import type { WorkflowEnv } from './api.ts';

/** inkflow's model kinds (ComfyUI folder names) and what A1111 calls the same folders. */
export const MODEL_KINDS: Record<string, readonly string[]> = {
  checkpoints: ['Stable-diffusion'],
  loras: ['Lora', 'LyCORIS'],
  controlnet: ['ControlNet'],
  t2i_adapter: ['T2I-Adapter'],
  clip_vision: ['clip_vision'],
  vae: ['VAE'],
  // TAESD decoders for step previews (taesd_decoder / taesdxl_decoder), as ComfyUI and A1111 name the folder.
  vae_approx: ['VAE-approx'],
  embeddings: ['embeddings'],
  colorize: [],
  detectors: ['ultralytics/bbox'],
};

export interface DataFolderOptions {
  /** An existing ComfyUI `models/` or A1111 `models/` folder, searched after the data folder's own. */
  models?: string;
  device?: 'cpu' | 'cuda';
  limits?: Partial<WorkflowEnv['limits']>;
  tokenizerDir?: string;
  /** Lossy speed modes (WorkflowEnv.int8Models / cacheSteps). */
  int8Models?: readonly string[];
  cacheSteps?: number;
  /** Create missing folders (default true). */
  create?: boolean;
  /** Offer inkflow's bundled models (models/default/*) as "default (bundled)" entries (default true). */
  bundled?: boolean;
}

export function dataFolderEnv(dataDir: string, opts: DataFolderOptions = {}): WorkflowEnv {
  const root = resolve(dataDir);
  const create = opts.create ?? true;
  const dir = (p: string) => {
    const d = join(root, p);
    if (create) mkdirSync(d, { recursive: true });
    return d;
  };
  const defaults = imageLimits();
  const modelDirs: Record<string, string[]> = {};
  for (const [kind, a1111] of Object.entries(MODEL_KINDS)) {
    const dirs = [dir(join('models', kind))];
    if (opts.models) {
      const m = resolve(opts.models);
      for (const name of [kind, ...a1111]) {
        const p = join(m, name);
        if (existsSync(p) && !dirs.includes(p)) dirs.push(p);
      }
      // A1111 keeps embeddings beside models/, not in it.
      if (kind === 'embeddings' && existsSync(join(m, '..', 'embeddings'))) dirs.push(resolve(m, '..', 'embeddings'));
    }
    modelDirs[kind] = dirs;
  }
  return {
    inputDir: dir('input'),
    outputDir: dir('output'),
    tempDir: dir('temp'),
    modelDirs,
    ...(opts.bundled ?? true ? { bundledModels: bundledModelFolders() } : {}),
    limits: {
      // The CLI's limits (INKFLOW_MAX_IMAGE_PIXELS, INKFLOW_MAX_INPUT_BYTES) unless given.
      maxImagePixels: opts.limits?.maxImagePixels ?? defaults.maxPixels,
      maxInputBytes: opts.limits?.maxInputBytes ?? defaults.maxBytes,
    },
    ...(opts.device ? { device: opts.device } : {}),
    ...(opts.tokenizerDir ? { tokenizerDir: opts.tokenizerDir } : {}),
    ...(opts.int8Models?.length ? { int8Models: opts.int8Models } : {}),
    ...((opts.cacheSteps ?? 1) > 1 ? { cacheSteps: opts.cacheSteps } : {}),
  };
}
