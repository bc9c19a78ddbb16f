// A generation as a ComfyUI API-format prompt (what ComfyUI writes into a PNG's `prompt` tEXt chunk), and
// back. The graph is the one a ComfyUI user would build for the same image:
//   CheckpointLoaderSimple → LoraLoader* → CLIPSetLastLayer? → CLIPTextEncode ×2
//   → ControlNetLoader + LoadImage + ControlNetApplyAdvanced (chained; T2I-Adapters too, which ComfyUI
//     loads with ControlNetLoader and applies with strength = scale)
//   → EmptyLatentImage | LoadImage → VAEEncode | VAEEncodeForInpaint | VAEEncode + SetLatentNoiseMask
//   → KSampler → VAEDecode → SaveImage
// `<lora:…>` tags become LoraLoader nodes and leave the CLIPTextEncode text, since ComfyUI's encoder would
// read them as words. Files are referenced by base name, as ComfyUI's loaders list them.
import { basename } from 'node:path';
import { parsePromptWeights } from '../../models/prompt/weights.ts';
import type { ResolvedSettings } from './generate.ts';
import { GENERATE_DEFAULTS } from './defaults.ts';

export interface ComfyNode {
  class_type: string;
  inputs: Record<string, unknown>;
  _meta?: { title: string };
}

export type ComfyPrompt = Record<string, ComfyNode>;

/**
 * Everything needed to regenerate an image (stored as JSON in the `inkflow` tEXt chunk): the resolved
 * sampling settings (growMaskBy only with a mask) plus the model, input files and add-ons.
 */
export interface GenerationRecord extends Omit<ResolvedSettings, 'growMaskBy'> {
  model: string;
  init?: string;
  mask?: string;
  growMaskBy?: number;
  /** LoRAs given outside the prompt (tags stay in the prompt text). */
  loras: { path: string; strengthModel: number; strengthClip: number }[];
  controlNets: { path: string; hint: string; strength: number; startPercent: number; endPercent: number; guessMode?: boolean }[];
  /** T2I-Adapters (absent in records written before they existed). */
  adapters?: { path: string; image: string; scale: number }[];
  sketchFidelity?: number;
  prediction?: string;
  /** Which channel of the mask file marks the area to repaint: red (white = repaint) or alpha (transparent = repaint). */
  maskChannel?: 'red' | 'alpha';
  /** SDXL text_l prompts and micro-conditioning, written as CLIPTextEncodeSDXL (base) / CLIPTextEncodeSDXLRefiner
   *  nodes; absent, SDXL prompts go through CLIPTextEncode with ComfyUI's defaults (sizes = the image's, crop 0). */
  sdxl?: SdxlTextRecord;
}

/** Resolved CLIPTextEncodeSDXL / CLIPTextEncodeSDXLRefiner inputs (the same for both prompts, but the texts and scores). */
export interface SdxlTextRecord {
  kind: 'base' | 'refiner';
  /** ViT-L texts (text_l); absent: the prompt / negative. */
  promptL?: string;
  negativeL?: string;
  /** Original size (width / height inputs). */
  width: number;
  height: number;
  /** Crop top-left (crop_w = x, crop_h = y); base only. */
  cropW: number;
  cropH: number;
  targetWidth: number;
  targetHeight: number;
  /** Refiner only: ascore of the positive / negative prompt (ComfyUI's usual 6 / 2.5). */
  aestheticScore: number;
  negativeAestheticScore: number;
}

type Link = [string, number];

export interface ComfyPromptOptions {
  /** Resize the init image to this size first (ImageScale, lanczos), as `--width/--height` with `--init` ask. */
  resizeInit?: { width: number; height: number };
  /** File names for `<lora:tag>` tags already resolved by the caller (tag name → file name in a loras folder). */
  loraFiles?: ReadonlyMap<string, string>;
}

/** Builds the ComfyUI API prompt for a record. */
export function toComfyPrompt(rec: GenerationRecord, opts: ComfyPromptOptions = {}): ComfyPrompt {
  const nodes: ComfyPrompt = {};
  let next = 1;
  const add = (class_type: string, inputs: Record<string, unknown>): string => {
    const id = String(next++);
    nodes[id] = { class_type, inputs, _meta: { title: class_type } };
    return id;
  };
  const ckpt = add('CheckpointLoaderSimple', { ckpt_name: basename(rec.model) });
  let model: Link = [ckpt, 0];
  let clip: Link = [ckpt, 1];
  const vae: Link = [ckpt, 2];
  let tagsOk = true;
  const strip = (text: string) => {
    try {
      const p = parsePromptWeights(text);
      return { text: stripLoraTags(text), loras: p.loras };
    } catch {
      tagsOk = false;
      return { text, loras: [] };
    }
  };
  const pos = strip(rec.prompt);
  const neg = strip(rec.negative);
  const loras = [
    ...rec.loras.map((l) => ({ name: basename(l.path), model: l.strengthModel, clip: l.strengthClip })),
    ...[...pos.loras, ...neg.loras].map((t) => ({ name: opts.loraFiles?.get(t.name) ?? (/\.safetensors$/i.test(t.name) ? t.name : `${t.name}.safetensors`), model: t.weight, clip: t.textWeight })),
  ];
  for (const l of loras) {
    const id = add('LoraLoader', { lora_name: l.name, strength_model: l.model, strength_clip: l.clip, model, clip });
    model = [id, 0];
    clip = [id, 1];
  }
  if (rec.clipSkip !== 1) clip = [add('CLIPSetLastLayer', { stop_at_clip_layer: -rec.clipSkip, clip }), 0];
  const encode = (text: string, textL: string | undefined, negativeSide: boolean): Link => {
    const x = rec.sdxl;
    if (!x) return [add('CLIPTextEncode', { text, clip }), 0];
    if (x.kind === 'refiner') return [add('CLIPTextEncodeSDXLRefiner', { ascore: negativeSide ? x.negativeAestheticScore : x.aestheticScore, width: x.width, height: x.height, text, clip }), 0];
    return [add('CLIPTextEncodeSDXL', {
      width: x.width, height: x.height, crop_w: x.cropW, crop_h: x.cropH, target_width: x.targetWidth, target_height: x.targetHeight,
      text_g: text, clip, text_l: textL === undefined ? text : tagsOk ? strip(textL).text : textL,
    }), 0];
  };
  let positive: Link = encode(tagsOk ? pos.text : rec.prompt, rec.sdxl?.promptL, false);
  let negative: Link = encode(tagsOk ? neg.text : rec.negative, rec.sdxl?.negativeL, true);
  const controls = [
    ...rec.controlNets,
    ...(rec.adapters ?? []).map((a) => ({ path: a.path, hint: a.image, strength: a.scale, startPercent: 0, endPercent: 1 })),
  ];
  for (const c of controls) {
    const net = add('ControlNetLoader', { control_net_name: basename(c.path) });
    const img = add('LoadImage', { image: basename(c.hint) });
    const apply = add('ControlNetApplyAdvanced', {
      strength: c.strength, start_percent: c.startPercent, end_percent: c.endPercent,
      positive, negative, control_net: [net, 0], image: [img, 0],
    });
    positive = [apply, 0];
    negative = [apply, 1];
  }
  let latent: Link;
  let pastedImage: Link | undefined;
  let pasteMask: Link | undefined;
  if (!rec.init) {
    latent = [add('EmptyLatentImage', { width: rec.width, height: rec.height, batch_size: rec.batch }), 0];
  } else {
    let image = add('LoadImage', { image: basename(rec.init) });
    if (opts.resizeInit) image = add('ImageScale', { image: [image, 0], upscale_method: 'lanczos', width: opts.resizeInit.width, height: opts.resizeInit.height, crop: 'disabled' });
    pastedImage = [image, 0];
    if (rec.mask && rec.inpaintMode === 'vae-encode-for-inpaint') {
      const mask = add('LoadImageMask', { image: basename(rec.mask), channel: rec.maskChannel ?? 'red' });
      pasteMask = [mask, 0];
      latent = [add('VAEEncodeForInpaint', { pixels: [image, 0], vae, mask: [mask, 0], grow_mask_by: rec.growMaskBy ?? GENERATE_DEFAULTS.growMaskBy }), 0];
    } else {
      latent = [add('VAEEncode', { pixels: [image, 0], vae }), 0];
      if (rec.mask) {
        const mask = add('LoadImageMask', { image: basename(rec.mask), channel: rec.maskChannel ?? 'red' });
        pasteMask = [mask, 0];
        latent = [add('SetLatentNoiseMask', { samples: latent, mask: [mask, 0] }), 0];
      }
    }
    if (rec.batch > 1) latent = [add('RepeatLatentBatch', { samples: latent, amount: rec.batch }), 0];
  }
  if (rec.prediction) model = [add('ModelSamplingDiscrete', { model, sampling: rec.prediction === 'eps' ? 'eps' : 'v_prediction', zsnr: false }), 0];
  const sampler = add('KSampler', {
    seed: seedLiteral(rec.seed), steps: rec.steps, cfg: rec.cfg, sampler_name: rec.sampler, scheduler: rec.scheduler,
    denoise: rec.denoise, model, positive, negative, latent_image: latent,
  });
  let decoded: Link = [add('VAEDecode', { samples: [sampler, 0], vae }), 0];
  if (rec.init && rec.mask && pastedImage && pasteMask) {
    // Only the masked part of the original changes: paste the result back through the (ungrown) mask.
    decoded = [add('ImageCompositeMasked', { destination: pastedImage, source: decoded, x: 0, y: 0, resize_source: false, mask: pasteMask }), 0];
  }
  add('SaveImage', { filename_prefix: 'inkflow', images: decoded });
  return nodes;
}

/** A seed as a JSON literal: a number while exact, a bigint beyond 2^53 (serializeComfyPrompt keeps it exact). */
function seedLiteral(seed: string): number | bigint {
  const b = BigInt(seed);
  return b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

/** JSON for a ComfyUI prompt, keeping bigint seeds as bare integer literals. */
export function serializeComfyPrompt(prompt: ComfyPrompt): string {
  const marks: string[] = [];
  const json = JSON.stringify(prompt, (_k, v) => {
    if (typeof v === 'bigint') {
      marks.push(v.toString());
      return `\u0000raw${marks.length - 1}\u0000`;
    }
    return v;
  });
  return json.replace(/"\\u0000raw(\d+)\\u0000"/g, (_m, i) => marks[Number(i)]);
}

function stripLoraTags(text: string): string {
  return text.replace(/<lora:[^>]*>/gi, '').replace(/ {2,}/g, ' ').trim();
}

export class ComfyPromptError extends Error {
  override name = 'ComfyPromptError';
}

/**
 * Reads settings back from a ComfyUI API prompt (ours or ComfyUI's own): the first KSampler and what
 * feeds it. Seeds are read from the raw JSON text so 64-bit values stay exact.
 */
export function fromComfyPrompt(jsonText: string): Partial<GenerationRecord> {
  let prompt: ComfyPrompt;
  try {
    prompt = JSON.parse(jsonText);
  } catch (e) {
    throw new ComfyPromptError(`the image's prompt metadata is not JSON: ${(e as Error).message}`);
  }
  if (!prompt || typeof prompt !== 'object') throw new ComfyPromptError('the image\'s prompt metadata is not a ComfyUI prompt object');
  const entries = Object.entries(prompt).filter(([, n]) => n && typeof n === 'object' && typeof n.class_type === 'string');
  const ks = entries.find(([, n]) => n.class_type === 'KSampler' || n.class_type === 'KSamplerAdvanced');
  if (!ks) throw new ComfyPromptError('the image\'s ComfyUI prompt has no KSampler node');
  const [ksId, k] = ks;
  const node = (link: unknown): ComfyNode | undefined => (Array.isArray(link) ? prompt[String(link[0])] : undefined);
  const out: Partial<GenerationRecord> = {};
  const seedMatch = new RegExp(`"${ksId}"\\s*:\\s*\\{[^]*?"(?:noise_)?seed"\\s*:\\s*(\\d+)`).exec(jsonText);
  const seed = k.inputs.seed ?? k.inputs.noise_seed;
  if (seedMatch) out.seed = seedMatch[1];
  else if (typeof seed === 'number') out.seed = String(seed);
  if (typeof k.inputs.steps === 'number') out.steps = k.inputs.steps;
  if (typeof k.inputs.cfg === 'number') out.cfg = k.inputs.cfg;
  if (typeof k.inputs.sampler_name === 'string') out.sampler = k.inputs.sampler_name;
  if (typeof k.inputs.scheduler === 'string') out.scheduler = k.inputs.scheduler;
  if (typeof k.inputs.denoise === 'number') out.denoise = k.inputs.denoise;
  // Conditioning: walk through ControlNet applies to the text encoders.
  const textOf = (link: unknown, slot: 0 | 1): string | undefined => {
    let n = node(link);
    let cur = link;
    for (let guard = 0; n && guard < 64; guard++) {
      if ((n.class_type === 'CLIPTextEncode' || n.class_type === 'CLIPTextEncodeSDXLRefiner') && typeof n.inputs.text === 'string') return n.inputs.text;
      if (n.class_type === 'CLIPTextEncodeSDXL' && typeof n.inputs.text_g === 'string') return n.inputs.text_g;
      const idx = Array.isArray(cur) ? Number(cur[1]) : slot;
      cur = n.inputs[idx === 1 ? 'negative' : 'positive'] ?? n.inputs.conditioning ?? n.inputs.conditioning_to;
      n = node(cur);
    }
    return undefined;
  };
  const p = textOf(k.inputs.positive, 0);
  const ng = textOf(k.inputs.negative, 1);
  if (p !== undefined) out.prompt = p;
  if (ng !== undefined) out.negative = ng;
  // Latent size and batch.
  let lat = node(k.inputs.latent_image);
  for (let guard = 0; lat && guard < 16; guard++) {
    if (lat.class_type === 'EmptyLatentImage') {
      if (typeof lat.inputs.width === 'number') out.width = lat.inputs.width;
      if (typeof lat.inputs.height === 'number') out.height = lat.inputs.height;
      if (typeof lat.inputs.batch_size === 'number') out.batch = lat.inputs.batch_size;
      break;
    }
    if (lat.class_type === 'RepeatLatentBatch' && typeof lat.inputs.amount === 'number') out.batch = lat.inputs.amount;
    if (lat.class_type === 'VAEEncodeForInpaint' && typeof lat.inputs.grow_mask_by === 'number') out.growMaskBy = lat.inputs.grow_mask_by;
    lat = node(lat.inputs.samples ?? lat.inputs.pixels);
  }
  const ckpt = entries.find(([, n]) => n.class_type === 'CheckpointLoaderSimple');
  if (ckpt && typeof ckpt[1].inputs.ckpt_name === 'string') out.model = ckpt[1].inputs.ckpt_name;
  const skip = entries.find(([, n]) => n.class_type === 'CLIPSetLastLayer');
  if (skip && typeof skip[1].inputs.stop_at_clip_layer === 'number') out.clipSkip = -skip[1].inputs.stop_at_clip_layer;
  return out;
}
