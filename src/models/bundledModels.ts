// The models shipped in the repository (models/default/*, trained by scripts/train-default-*.ts), as
// entries a model chooser can list beside the user's own files: each under its ComfyUI folder kind with
// the one name BUNDLED_MODEL_NAME, resolved to the repository folder so nobody copies anything. Only the
// ones present on disk are listed (an installation may leave them out).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_MODELS_ROOT, defaultTextToImagePath } from './defaultTextToImage.ts';

/** What every bundled model is called in the model lists (no slash and no extension: no file can be confused with it). */
export const BUNDLED_MODEL_NAME = 'default (bundled)';

export const DEFAULT_SDRO_PATH = resolve(DEFAULT_MODELS_ROOT, 'sdro');
export const DEFAULT_VAE_PATH = resolve(DEFAULT_MODELS_ROOT, 'vae');

/** Folder kind → bundled name → model folder, for the bundled models this installation has. */
export function bundledModelFolders(env: Readonly<Record<string, string | undefined>> = process.env): Record<string, Record<string, string>> {
  const candidates: [kind: string, path: string, marker: string][] = [
    ['checkpoints', defaultTextToImagePath(env), 'model_index.json'],
    ['colorize', DEFAULT_SDRO_PATH, 'model_index.json'],
    ['vae', DEFAULT_VAE_PATH, 'config.json'],
  ];
  const out: Record<string, Record<string, string>> = {};
  for (const [kind, path, marker] of candidates) if (existsSync(join(path, marker))) out[kind] = { [BUNDLED_MODEL_NAME]: path };
  return out;
}
