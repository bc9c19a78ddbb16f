// The server's data folder, laid out as ComfyUI's so users can point existing tools at it:
//   <data>/models/{checkpoints,loras,controlnet,clip_vision,vae,embeddings,…}, <data>/input, <data>/output,
//   <data>/temp, and the queue database <data>/inkflow.sqlite.
// `--models DIR` adds an existing ComfyUI or A1111 models folder as a second place to look, so nobody copies
// gigabytes of weights. A1111 spells the folders differently (Stable-diffusion, Lora, ControlNet…); both
// spellings are searched.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** ComfyUI folder name → the folder names it has in a ComfyUI tree and in an A1111 tree. */
const MODEL_FOLDERS: Record<string, { comfy: string[]; a1111: string[] }> = {
  checkpoints: { comfy: ['checkpoints'], a1111: ['Stable-diffusion'] },
  loras: { comfy: ['loras'], a1111: ['Lora', 'LyCORIS'] },
  controlnet: { comfy: ['controlnet', 't2i_adapter'], a1111: ['ControlNet'] },
  clip_vision: { comfy: ['clip_vision'], a1111: ['clip_vision'] },
  vae: { comfy: ['vae'], a1111: ['VAE'] },
  embeddings: { comfy: ['embeddings'], a1111: ['embeddings'] },
  upscale_models: { comfy: ['upscale_models'], a1111: ['ESRGAN', 'RealESRGAN'] },
  clip: { comfy: ['clip', 'text_encoders'], a1111: [] },
  unet: { comfy: ['unet', 'diffusion_models'], a1111: [] },
};

/** The folders created in a fresh data folder (the ComfyUI spelling). */
const CREATED_MODEL_FOLDERS = ['checkpoints', 'loras', 'controlnet', 'clip_vision', 'vae', 'embeddings'];

export interface DataFolder {
  readonly root: string;
  readonly inputDir: string;
  readonly outputDir: string;
  readonly tempDir: string;
  readonly databasePath: string;
  /** ComfyUI folder name → every existing folder to search, the data folder's own first. */
  readonly modelDirs: Record<string, string[]>;
}

/** Creates the layout under `root` when missing and lists where models are found. */
export function openDataFolder(root: string, extraModels?: string): DataFolder {
  const abs = resolve(root);
  if (existsSync(abs) && !statSync(abs).isDirectory()) throw new Error(`--data ${root} is a file, not a folder`);
  const inputDir = join(abs, 'input');
  const outputDir = join(abs, 'output');
  const tempDir = join(abs, 'temp');
  for (const d of [inputDir, outputDir, tempDir, ...CREATED_MODEL_FOLDERS.map((f) => join(abs, 'models', f))]) {
    mkdirSync(d, { recursive: true });
  }
  let extra: string | undefined;
  if (extraModels !== undefined) {
    extra = resolve(extraModels);
    if (!existsSync(extra) || !statSync(extra).isDirectory()) throw new Error(`--models ${extraModels} is not a folder`);
  }
  const modelDirs: Record<string, string[]> = {};
  for (const [name, spellings] of Object.entries(MODEL_FOLDERS)) {
    const candidates = [join(abs, 'models', name)];
    if (extra) {
      for (const s of [...spellings.comfy, ...spellings.a1111]) candidates.push(join(extra, s));
    }
    modelDirs[name] = [...new Set(candidates)].filter((d) => existsSync(d) && statSync(d).isDirectory());
  }
  return { root: abs, inputDir, outputDir, tempDir, databasePath: join(abs, 'inkflow.sqlite'), modelDirs };
}

/** The folder for a `/view` or upload `type` (ComfyUI's three), or undefined for anything else. */
export function folderForType(data: DataFolder, type: string): string | undefined {
  if (type === 'output') return data.outputDir;
  if (type === 'input') return data.inputDir;
  if (type === 'temp') return data.tempDir;
  return undefined;
}
