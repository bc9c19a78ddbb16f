// Finds a model component (config.json + safetensors weights) given either the component folder itself
// (`…/vae`), a diffusers pipeline folder containing it (`…/model` with `vae/`), or a single weights file.
// Errors say every place looked at, and pickle weights are refused with the conversion hint.
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { assertNotPickle } from '../weights/pickle_guard.ts';

export class ModelFolderError extends Error {
  override name = 'ModelFolderError';
}

export interface ComponentFiles {
  /** config.json of the component; absent for a single weights file. */
  readonly configPath?: string;
  readonly weightsPath: string;
}

export interface ComponentSpec {
  /** Subfolder name in a pipeline folder, e.g. "vae" or "text_encoder". */
  readonly subfolder: string;
  /** Weights file names in preference order, e.g. ["diffusion_pytorch_model.safetensors"]. */
  readonly weightNames: readonly string[];
  /** What is being loaded, for messages ("VAE"). */
  readonly what: string;
}

/** Adds the `.fp16` variant names diffusers writes next to the plain ones. */
function withVariants(names: readonly string[]): string[] {
  return names.flatMap((n) => [n, n.replace(/\.safetensors$/, '.fp16.safetensors')]);
}

export function resolveComponent(path: string, spec: ComponentSpec): ComponentFiles {
  if (!existsSync(path)) throw new ModelFolderError(`${spec.what}: ${path} does not exist`);
  if (statSync(path).isFile()) {
    assertNotPickle(path);
    return { weightsPath: path };
  }
  const folders = [path, join(path, spec.subfolder)];
  const folder = folders.find((f) => existsSync(join(f, 'config.json')));
  if (!folder) throw new ModelFolderError(`${spec.what}: no config.json in ${folders.join(' or ')}`);
  const names = withVariants(spec.weightNames);
  const found = names.map((n) => join(folder, n)).find((p) => existsSync(p));
  if (found) return { configPath: join(folder, 'config.json'), weightsPath: found };
  for (const pickle of ['diffusion_pytorch_model.bin', 'pytorch_model.bin']) {
    if (existsSync(join(folder, pickle))) assertNotPickle(join(folder, pickle));
  }
  throw new ModelFolderError(`${spec.what}: no weights in ${folder} (looked for ${names.join(', ')})`);
}

/**
 * The component's config.json, read with `read` (which raises the caller's error): the folder's, or for a
 * single weights file a config.json beside it when its `_class_name` is `className` (a file saved next to a
 * pipeline's config.json must not pick that up). Undefined when there is none.
 */
export function componentConfigJson(files: ComponentFiles, className: string, read: (path: string) => Record<string, unknown>): Record<string, unknown> | undefined {
  if (files.configPath) return read(files.configPath);
  const beside = join(dirname(files.weightsPath), 'config.json');
  const json = existsSync(beside) ? read(beside) : undefined;
  return json?._class_name === className ? json : undefined;
}
