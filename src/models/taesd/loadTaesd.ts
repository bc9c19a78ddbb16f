// Finds and loads a TAESD decoder the user put in `models/vae_approx`, as ComfyUI does: the first file
// (sorted) whose name starts with `taesd_decoder` (SD1/SD2) or `taesdxl_decoder` (SDXL). Only safetensors
// are read — a `.pth` is a Python pickle, which can run code when loaded. The published files name the
// parameters by nn.Sequential position ("1.weight", "3.conv.0.weight", …). (diffusers' AutoencoderTiny
// numbers its layers differently and is not read here.)
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { compiledModels } from '../../runtime/compiledModels.ts';
import type { CompileOptions } from '../../runtime/session.ts';
import { openSafetensors, type SafetensorsReader } from '../../weights/safetensors.ts';
import { safetensorsWeights } from '../../weights/store.ts';
import { TAESD_WIDTH, TaesdError, taesdDecoderGraph, taesdDecoderParams } from './taesdDecoder.ts';

export type PreviewFamily = 'sd1' | 'sd2' | 'sdxl';

/** ComfyUI's decoder file name prefix per latent format (SD2 shares SD1's latent space). */
export function taesdDecoderName(family: PreviewFamily): string {
  return family === 'sdxl' ? 'taesdxl_decoder' : 'taesd_decoder';
}

/** The decoder file for `family` in the first folder that has one, or undefined. */
export function findTaesdDecoder(dirs: readonly string[], family: PreviewFamily): string | undefined {
  const name = taesdDecoderName(family);
  for (const dir of dirs) {
    let files: string[];
    try {
      files = readdirSync(dir).sort();
    } catch {
      continue; // a configured folder that does not exist holds no decoder
    }
    const hit = files.find((f) => f.startsWith(name) && f.endsWith('.safetensors'));
    if (hit) return join(dir, hit);
  }
  return undefined;
}

export interface TaesdDecoder {
  readonly path: string;
  readonly latentChannels: number;
  /** Model-space latents [1, C, h, w] → RGB [1, 3, 8h, 8w] in [0, 1]. */
  decode(latents: Float32Array, shape: readonly number[]): Promise<{ shape: readonly number[]; data: Float32Array }>;
  release(): Promise<void>;
}

/** Checks every parameter against the layout before anything is compiled, so a wrong file fails with its name. */
function checkLayout(reader: SafetensorsReader): number {
  if (!reader.has('1.weight')) throw new TaesdError(`${reader.path}: not a TAESD decoder (no "1.weight")`);
  const first = reader.info('1.weight').shape;
  if (first.length !== 4 || first[0] !== TAESD_WIDTH) throw new TaesdError(`${reader.path}: "1.weight" is [${first.join(', ')}], a TAESD decoder has [64, latent channels, 3, 3]`);
  const latentChannels = first[1];
  const problems: string[] = [];
  for (const [key, shape] of taesdDecoderParams(latentChannels)) {
    if (!reader.has(key)) problems.push(`missing "${key}"`);
    else if (reader.info(key).shape.join(',') !== shape.join(',')) problems.push(`"${key}" is [${reader.info(key).shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
  if (problems.length) throw new TaesdError(`${reader.path}: not a TAESD decoder: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; … ${problems.length - 5} more` : ''}`);
  return latentChannels;
}

export function loadTaesdDecoder(path: string, opts: Pick<CompileOptions, 'provider' | 'threads' | 'cacheDir'> = {}): TaesdDecoder {
  const reader = openSafetensors(path);
  try {
    const latentChannels = checkLayout(reader);
    const sessions = compiledModels(safetensorsWeights(reader), opts);
    return {
      path,
      latentChannels,
      async decode(latents, shape) {
        if (shape.length !== 4 || shape[1] !== latentChannels) throw new TaesdError(`TAESD decode: latents must be [B, ${latentChannels}, h, w], got [${shape.join(', ')}]`);
        const model = await sessions.get(shape.join('x'), () => taesdDecoderGraph(shape));
        const out = (await model.run({ latents: { dtype: 'f32', shape, data: latents } })).image;
        return { shape: out.shape, data: out.data as Float32Array };
      },
      async release() {
        await sessions.release();
        reader.close();
      },
    };
  } catch (e) {
    reader.close();
    throw e;
  }
}
