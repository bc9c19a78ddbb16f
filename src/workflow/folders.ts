// Names in a prompt → files in the environment's folders. Every name goes through resolveInside (no
// `..`, no absolute path, no symlink escape); choice lists for /object_info are read from the folders.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { resolveInside } from '../files/safePath.ts';
import type { WorkflowEnv } from './api.ts';

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif', '.bmp', '.tif', '.tiff', '.avif']);
const MODEL_EXTENSIONS = new Set(['.safetensors', '.ckpt', '.pt', '.pt2', '.pth', '.bin', '.sft', '.onnx', '.pkl']);

/** LoadImage's choices: image files directly in the input folder, sorted. */
export function listInputImages(env: WorkflowEnv): string[] {
  if (!existsSync(env.inputDir)) return [];
  return readdirSync(env.inputDir, { withFileTypes: true })
    .filter((e) => e.isFile() && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase()))
    .map((e) => e.name)
    .sort();
}

function walkModels(root: string, rel: string, out: Set<string>, depth: number): void {
  let entries;
  try {
    entries = readdirSync(join(root, rel), { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const name = rel ? `${rel}/${e.name}` : e.name;
    let isDir = e.isDirectory();
    if (e.isSymbolicLink()) {
      try {
        isDir = statSync(join(root, name)).isDirectory();
      } catch {
        continue;
      }
    }
    if (isDir) {
      // A diffusers model folder is one model, listed by its folder name.
      if (existsSync(join(root, name, 'model_index.json')) || existsSync(join(root, name, 'config.json'))) out.add(name);
      else if (depth < 8) walkModels(root, name, out, depth + 1);
    } else if (MODEL_EXTENSIONS.has(extname(e.name).toLowerCase())) out.add(name);
  }
}

/** The model names of a ComfyUI folder kind (checkpoints, loras, …) across its folders, sorted, then its bundled models. */
export function listModels(env: WorkflowEnv, kind: string): string[] {
  const out = new Set<string>();
  for (const dir of env.modelDirs[kind] ?? []) walkModels(dir, '', out, 0);
  const files = [...out].sort();
  return [...files, ...Object.keys(env.bundledModels?.[kind] ?? {}).filter((n) => !out.has(n))];
}

export class MissingFileError extends Error {
  override name = 'MissingFileError';
}

/** The path of model `name` of a kind: the first of its folders that holds it. */
export function resolveModel(env: WorkflowEnv, kind: string, name: string): string {
  const dirs = env.modelDirs[kind] ?? [];
  for (const dir of dirs) {
    const p = resolveInside(dir, name);
    if (existsSync(p)) return p;
  }
  const bundled = env.bundledModels?.[kind];
  if (bundled && Object.hasOwn(bundled, name)) return bundled[name];
  throw new MissingFileError(`${kind} model ${JSON.stringify(name)} not found in ${dirs.length ? dirs.join(', ') : `any ${kind} folder`}`);
}

/** `name.png [output]` → output folder (also [input], [temp]); no annotation → input folder. */
export function resolveAnnotated(env: WorkflowEnv, name: string): string {
  const m = /^(.*) \[(input|output|temp)\]$/.exec(name);
  const dir = !m ? env.inputDir : m[2] === 'output' ? env.outputDir : m[2] === 'temp' ? env.tempDir : env.inputDir;
  return resolveInside(dir, m ? m[1] : name);
}

/** ComfyUI's exists_annotated_filepath, without ever leaving the folders. */
export function annotatedExists(env: WorkflowEnv, name: string): boolean {
  try {
    const p = resolveAnnotated(env, name);
    return existsSync(p) && statSync(p).isFile();
  } catch {
    return false;
  }
}
