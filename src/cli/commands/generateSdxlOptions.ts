// `inkflow generate`'s SDXL options: separate ViT-L prompts and the micro-conditioning, resolved into the
// record's CLIPTextEncodeSDXL / CLIPTextEncodeSDXLRefiner inputs. Ranges come from those node declarations
// (checkNodeOption), defaults are ComfyUI's (sizes = the image's, crop 0, aesthetic score 6 / 2.5).
import { decodeImage } from '../../imaging/image.ts';
import { readImageBytes } from '../../imaging/limits.ts';
import { openControlNetCheckpoint } from '../../models/controlnet/load.ts';
import { sdxlKindOf } from '../../models/checkpoint/sdxlCheckpoint.ts';
import { refinerControlNetRefusal } from '../../pipelines/generate/controlNet.ts';
import type { GenerationRecord, SdxlTextRecord } from '../../pipelines/generate/comfyPrompt.ts';
import { UsageError } from '../command.ts';
import { checkNodeOption, nodeDefault } from '../nodeOptions.ts';

export interface SdxlOptionValues {
  'prompt-l'?: string;
  'negative-l'?: string;
  'original-size'?: string;
  'crop-top-left'?: string;
  'target-size'?: string;
  'aesthetic-score'?: string;
  'negative-aesthetic-score'?: string;
}

/** "WxH" (or "W,H") → [w, h]: whole numbers as the node declares them. */
function pair(flag: string, text: string | undefined, sep: RegExp, node: string, inputs: [string, string]): [number, number] | undefined {
  if (text === undefined) return undefined;
  const m = new RegExp(`^\\s*(\\d+)\\s*${sep.source}\\s*(\\d+)\\s*$`).exec(text);
  if (!m) throw new UsageError(`--${flag} must look like ${sep.source.includes('x') ? '1024x1024' : '0,0'}, got "${text}"`);
  const a = checkNodeOption(node, inputs[0], flag, Number(m[1]));
  const b = checkNodeOption(node, inputs[1], flag, Number(m[2]));
  return [a, b];
}

function score(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const x = Number(text);
  if (text.trim() === '' || !Number.isFinite(x)) throw new UsageError(`--${flag} must be a number, got "${text}"`);
  return checkNodeOption('CLIPTextEncodeSDXLRefiner', 'ascore', flag, x);
}

/**
 * The SDXL text record, or undefined when no SDXL option is given (then the prompts go through CLIPTextEncode,
 * which gives the same ComfyUI defaults). Unset sizes are the image size: `rec`'s, or `sizeFromInit`'s (an init image
 * used at its own size).
 */
export async function sdxlTextRecord(v: SdxlOptionValues, from: Partial<GenerationRecord>, model: string, sdxl: boolean, rec: GenerationRecord, sizeFromInit: string | undefined): Promise<SdxlTextRecord | undefined> {
  const given = (Object.keys(v) as (keyof SdxlOptionValues)[]).filter((k) => k in SDXL_FLAGS && v[k] !== undefined);
  if (!sdxl) {
    if (given.length) throw new UsageError(`--${given[0]} needs an SDXL checkpoint (${model} is SD1/SD2)`);
    return undefined;
  }
  if (!given.length) return from.sdxl;
  const kind = sdxlKindOf(model);
  const only = (flags: (keyof SdxlOptionValues)[], which: string) => {
    for (const f of flags) if (v[f] !== undefined) throw new UsageError(`--${f} is for SDXL ${which} models (${model} is an SDXL ${kind})`);
  };
  if (kind === 'refiner') only(['prompt-l', 'negative-l', 'crop-top-left', 'target-size'], 'base');
  else only(['aesthetic-score', 'negative-aesthetic-score'], 'refiner');
  let size: [number, number] = [rec.width, rec.height];
  if (sizeFromInit) {
    // The image size ComfyUI would see: the init image's own (inkflow generate does not resize it without --width/--height).
    const img = await decodeImage(readImageBytes(sizeFromInit), 3, sizeFromInit);
    size = [img.width, img.height];
  }
  const original = pair('original-size', v['original-size'], /[xX×]/, 'CLIPTextEncodeSDXL', ['width', 'height']) ?? size;
  const crop = pair('crop-top-left', v['crop-top-left'], /,/, 'CLIPTextEncodeSDXL', ['crop_w', 'crop_h']) ?? [0, 0];
  const target = pair('target-size', v['target-size'], /[xX×]/, 'CLIPTextEncodeSDXL', ['target_width', 'target_height']) ?? size;
  return {
    kind,
    ...(v['prompt-l'] !== undefined ? { promptL: v['prompt-l'] } : {}),
    ...(v['negative-l'] !== undefined ? { negativeL: v['negative-l'] } : {}),
    width: original[0], height: original[1], cropW: crop[0], cropH: crop[1], targetWidth: target[0], targetHeight: target[1],
    aestheticScore: score('aesthetic-score', v['aesthetic-score']) ?? nodeDefault<number>('CLIPTextEncodeSDXLRefiner', 'ascore'),
    negativeAestheticScore: score('negative-aesthetic-score', v['negative-aesthetic-score']) ?? 2.5,
  };
}

const SDXL_FLAGS: Record<keyof SdxlOptionValues, true> = {
  'prompt-l': true, 'negative-l': true, 'original-size': true, 'crop-top-left': true, 'target-size': true, 'aesthetic-score': true, 'negative-aesthetic-score': true,
};

/** An SD1/SD2 ControlNet with an SDXL checkpoint (or the reverse) is a usage error, found from the file's header. */
export function assertControlNetFamily(path: string, model: string, sdxl: boolean): void {
  let isXl: boolean;
  let timeIds: number | undefined;
  try {
    const ckpt = openControlNetCheckpoint(path);
    isXl = ckpt.config.unet.addition !== null;
    timeIds = ckpt.config.unet.addition?.timeIds;
    ckpt.reader.close();
  } catch (e) {
    throw new UsageError(`--controlnet ${path}: ${(e as Error).message}`);
  }
  if (isXl !== sdxl) throw new UsageError(`--controlnet ${path} is an ${isXl ? 'SDXL' : 'SD1/SD2'} ControlNet but ${model} is an ${sdxl ? 'SDXL' : 'SD1/SD2'} checkpoint`);
  if (sdxl && timeIds === 6 && sdxlKindOf(model) === 'refiner') throw new UsageError(refinerControlNetRefusal(`--controlnet ${path}`, ` (${model})`));
}
