// LoRA files for a checkpoint: resolving `<lora:name:w>` names in the loras folders, and the merge
// targets (which parameter names and LoRA key prefixes belong to the UNet and to the text encoder).
// The merge itself is weights/lora.ts; kohya, diffusers and PEFT key layouts are all accepted there.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { resolveInside } from '../../files/safePath.ts';
import { assertNotPickle } from '../../weights/pickle_guard.ts';
import type { LoraTarget } from '../../weights/lora.ts';
import { diffusersToLdmUnetKey, type LdmUnetLayout } from '../../weights/keymaps/ldmUnet.ts';
import { CheckpointError } from './family.ts';

export interface LoraSpec {
  /** A .safetensors file. */
  path: string;
  /** Strength on the UNet (ComfyUI strength_model). */
  strengthModel: number;
  /** Strength on the text encoder (ComfyUI strength_clip). */
  strengthClip: number;
}

/**
 * Finds the LoRA of a `<lora:name:w>` tag inside the loras folders only: `<dir>/<name>` and
 * `<dir>/<name>.safetensors` in each folder (subfolder names such as "style/ink" work), then a
 * case-insensitive match of the file stem. A prompt is user input (and on the server, anyone's), so
 * absolute names, `..` and symlinks out of the folder are refused (files/resolveInside), exactly as for
 * every other file name in a prompt. Pickle files are refused with the conversion hint.
 */
export function resolveLoraPath(name: string, dirs: readonly string[]): string {
  if (!dirs.length) throw new CheckpointError(`LoRA "${name}" not found: no loras folder given (pass --loras DIR for <lora:name> tags, or --lora FILE)`);
  for (const dir of dirs) {
    for (const cand of [resolveInside(dir, name), resolveInside(dir, `${name}.safetensors`)]) {
      if (existsSync(cand) && statSync(cand).isFile()) return checked(cand);
    }
  }
  const want = name.toLowerCase();
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) {
      if (basename(f, extname(f)).toLowerCase() !== want) continue;
      const p = resolveInside(dir, f);
      if (statSync(p).isFile()) return checked(p);
    }
  }
  throw new CheckpointError(`LoRA "${name}" not found; looked for ${name} and ${name}.safetensors in ${dirs.join(', ')}`);
}

function checked(path: string): string {
  assertNotPickle(path);
  return path;
}

export function unetLoraTarget(params: Iterable<string>, layout: LdmUnetLayout): LoraTarget {
  return {
    params,
    kohyaPrefixes: ['lora_unet'],
    diffusersPrefixes: ['unet.', 'model.diffusion_model.'],
    // kohya files made from LDM checkpoints name modules by their LDM keys (input_blocks_1_1_proj_in …).
    aliases: (p) => {
      const ldm = diffusersToLdmUnetKey(p, layout);
      return ldm && ldm !== p ? [ldm] : [];
    },
  };
}

export function textEncoderLoraTarget(params: Iterable<string>): LoraTarget {
  return {
    params,
    kohyaPrefixes: ['lora_te', 'lora_te1'],
    diffusersPrefixes: ['text_encoder.', 'te.'],
  };
}
