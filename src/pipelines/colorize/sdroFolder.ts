// The released SDRO model folder (diffusers `save_pretrained` layout), read as the original pipeline reads it:
// model_index.json names the pipeline and its five components; each lives in its own subfolder. Every problem
// (missing file, wrong pipeline class, unreadable JSON) is reported with the path and what was expected.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parsePythonJson } from '../../sampling/diffusers/index.ts';
import { readTextLimited } from '../../files/readText.ts';

export class SdroFolderError extends Error {
  override name = 'SdroFolderError';
}

export const SDRO_PIPELINE_CLASS = 'StableDiffusionReferenceOnlyPipeline';

/** Component name → [library, class] as model_index.json records them. */
export const SDRO_COMPONENTS = {
  image_encoder: 'CLIPVisionModel',
  unet: 'UNet2DDobuleConditionModel',
  vae: 'AutoencoderKL',
  scheduler: null, // any scheduler class: the pipeline rebuilds UniPC from its config
  clip_image_processor: 'CLIPImageProcessor',
} as const;

export interface SdroFolder {
  readonly dir: string;
  readonly modelIndex: Readonly<Record<string, unknown>>;
  readonly imageEncoderDir: string;
  readonly unetDir: string;
  readonly vaeDir: string;
  /** scheduler/scheduler_config.json contents (Python NaN/Infinity tokens accepted). */
  readonly schedulerConfig: Readonly<Record<string, unknown>>;
  /** clip_image_processor/preprocessor_config.json contents. */
  readonly preprocessorConfig: Readonly<Record<string, unknown>>;
}

function readJsonObject(path: string, what: string): Record<string, unknown> {
  if (!existsSync(path)) throw new SdroFolderError(`${what}: ${path} is missing`);
  let v: unknown;
  try {
    v = parsePythonJson(readTextLimited(path));
  } catch (e) {
    throw new SdroFolderError(`${what}: ${path} is not valid JSON (${(e as Error).message})`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new SdroFolderError(`${what}: ${path} must hold a JSON object`);
  return v as Record<string, unknown>;
}

/** True when `dir` looks like an SDRO pipeline folder (its model_index.json names the SDRO pipeline). */
export function isSdroFolder(dir: string): boolean {
  const p = join(dir, 'model_index.json');
  if (!existsSync(p)) return false;
  try {
    return (JSON.parse(readTextLimited(p)) as { _class_name?: unknown })._class_name === SDRO_PIPELINE_CLASS;
  } catch {
    return false;
  }
}

/** Reads and checks model_index.json and the per-component configs; weights are opened by the model loaders. */
export function readSdroFolder(dir: string): SdroFolder {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new SdroFolderError(`SDRO model folder ${dir} does not exist or is not a folder`);
  const modelIndex = readJsonObject(join(dir, 'model_index.json'), 'SDRO model folder');
  if (modelIndex._class_name !== SDRO_PIPELINE_CLASS) {
    throw new SdroFolderError(`${join(dir, 'model_index.json')}: _class_name is ${JSON.stringify(modelIndex._class_name)}, expected "${SDRO_PIPELINE_CLASS}"`);
  }
  for (const [name, cls] of Object.entries(SDRO_COMPONENTS)) {
    const entry = modelIndex[name];
    if (!Array.isArray(entry) || entry.length !== 2) {
      throw new SdroFolderError(`${join(dir, 'model_index.json')}: component "${name}" is missing (expected [library, class])`);
    }
    if (cls !== null && entry[1] !== cls) {
      throw new SdroFolderError(`${join(dir, 'model_index.json')}: component "${name}" is ${JSON.stringify(entry[1])}, inkflow loads ${cls}`);
    }
    if (!existsSync(join(dir, name))) throw new SdroFolderError(`SDRO model folder ${dir}: subfolder ${name}/ is missing`);
  }
  return {
    dir,
    modelIndex,
    imageEncoderDir: join(dir, 'image_encoder'),
    unetDir: join(dir, 'unet'),
    vaeDir: join(dir, 'vae'),
    schedulerConfig: readJsonObject(join(dir, 'scheduler', 'scheduler_config.json'), 'SDRO scheduler'),
    preprocessorConfig: readJsonObject(join(dir, 'clip_image_processor', 'preprocessor_config.json'), 'SDRO CLIP image processor'),
  };
}
