// The server's data folder: the workflow layer's ComfyUI layout (input/, output/, temp/, models/<kind>/,
// an optional existing ComfyUI or A1111 models folder searched too — see workflow/dataFolder.ts), plus the
// queue database <data>/inkflow.sqlite.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { dataFolderEnv } from '../workflow/dataFolder.ts';
import type { WorkflowEnv } from './workflowApi.ts';

export interface DataFolder {
  readonly root: string;
  /** What the nodes see: folders, model folders, limits, device. */
  readonly env: WorkflowEnv;
  readonly inputDir: string;
  readonly outputDir: string;
  readonly tempDir: string;
  readonly modelDirs: Record<string, string[]>;
  readonly databasePath: string;
}

export interface DataFolderOptions {
  /** An existing ComfyUI or A1111 models folder (`--models`). */
  models?: string;
  device?: 'cpu' | 'cuda';
  limits: WorkflowEnv['limits'];
  tokenizerDir?: string;
  /** Per-model int8 and step caching (WorkflowEnv.int8Models / cacheSteps). */
  int8Models?: readonly string[];
  cacheSteps?: number;
  /** Offer the bundled models (workflow/dataFolder.ts; default true). */
  bundledModels?: boolean;
}

/** Creates the layout under `root` when missing; refuses a root that is a file and a --models that is not a folder. */
export function openDataFolder(root: string, opts: DataFolderOptions): DataFolder {
  const abs = resolve(root);
  if (existsSync(abs) && !statSync(abs).isDirectory()) throw new Error(`--data ${root} is a file, not a folder`);
  if (opts.models !== undefined && !(existsSync(opts.models) && statSync(opts.models).isDirectory())) {
    throw new Error(`--models ${opts.models} is not a folder`);
  }
  const env = dataFolderEnv(abs, { models: opts.models, device: opts.device, limits: opts.limits, tokenizerDir: opts.tokenizerDir, int8Models: opts.int8Models, cacheSteps: opts.cacheSteps, bundled: opts.bundledModels });
  return {
    root: abs,
    env,
    inputDir: env.inputDir,
    outputDir: env.outputDir,
    tempDir: env.tempDir,
    modelDirs: env.modelDirs,
    databasePath: join(abs, 'inkflow.sqlite'),
  };
}

/** The folder for a `/view` or upload `type` (ComfyUI's three), or undefined for anything else. */
export function folderForType(data: DataFolder, type: string): string | undefined {
  if (type === 'output') return data.outputDir;
  if (type === 'input') return data.inputDir;
  if (type === 'temp') return data.tempDir;
  return undefined;
}
