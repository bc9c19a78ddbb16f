// Where inkflow's bundled text-to-image model lives (models/default/t2i in the repository, trained by
// scripts/train-default-t2i.ts) and the settings it is meant to be run with. `inkflow generate` uses it
// when no --model is given. INKFLOW_DEFAULT_T2I points elsewhere (another copy, or a newer training run).
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Where the repository keeps its bundled models (t2i/, sdro/, vae/). */
export const DEFAULT_MODELS_ROOT = resolve(REPO_ROOT, 'models/default');

export const DEFAULT_T2I_RELATIVE = 'models/default/t2i';

/** Side of the square pictures it was trained on. */
export const DEFAULT_T2I_SIZE = 128;

export function defaultTextToImagePath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env.INKFLOW_DEFAULT_T2I ? resolve(env.INKFLOW_DEFAULT_T2I) : resolve(REPO_ROOT, DEFAULT_T2I_RELATIVE);
}

export function hasDefaultTextToImage(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  return existsSync(resolve(defaultTextToImagePath(env), 'model_index.json'));
}
