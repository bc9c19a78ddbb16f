// The workflows the panel tools send to the server, as ComfyUI API prompts built from ComfyUI's own core
// nodes (so any ComfyUI-compatible server runs them) plus inkflow's flat colouriser, whose name and
// inputs are read from the server's /object_info rather than assumed.
import type { Character, Panel } from '../project/schema.ts';

export type ComfyPrompt = Record<string, { class_type: string; inputs: Record<string, unknown>; _meta?: { title: string } }>;

export interface GenerateSettings {
  checkpoint: string;
  positive: string;
  negative: string;
  width: number;
  height: number;
  seed: number;
  steps: number;
  cfg: number;
  sampler: string;
  scheduler: string;
  loras: { name: string; strength: number }[];
  batch: number;
}

/** Defaults that worked in the comic-strip study: dpmpp_2m + karras, 20 steps, cfg 8. */
export const GENERATE_DEFAULTS = { steps: 20, cfg: 8, sampler: 'dpmpp_2m', scheduler: 'karras', negative: 'blurry, lowres, bad anatomy, text, watermark' };

/** The panel's prompt with the prompt snippets of the characters in it, in order. */
export function composePrompt(panel: Panel, characters: readonly Character[]): string {
  const snippets = panel.characterIds.map((id) => characters.find((c) => c.id === id)?.promptSnippet.trim()).filter((s): s is string => !!s);
  return [panel.prompt.trim(), ...snippets].filter(Boolean).join(', ');
}

/** LoRAs of the panel's characters (one per file, the first strength wins). */
export function characterLoras(panel: Panel, characters: readonly Character[]): { name: string; strength: number }[] {
  const out = new Map<string, number>();
  for (const id of panel.characterIds) {
    const l = characters.find((c) => c.id === id)?.lora;
    if (l && !out.has(l.name)) out.set(l.name, l.strength);
  }
  return [...out].map(([name, strength]) => ({ name, strength }));
}

/** The first locked seed among the panel's characters, so a character's panels repeat; else `fallback`. */
export function panelSeed(panel: Panel, characters: readonly Character[], fallback: number): number {
  for (const id of panel.characterIds) {
    const s = characters.find((c) => c.id === id)?.seed;
    if (s !== null && s !== undefined) return s;
  }
  return fallback;
}

/**
 * Pixel size for a panel: its aspect ratio with the long side `longSide`, both sides multiples of 8; a
 * very flat panel grows so its short side still has 64 px (the picture keeps the panel's shape, so the
 * sketch, the picture and the frame line up).
 */
export function panelPixels(panel: Pick<Panel, 'w' | 'h'>, longSide: number): { width: number; height: number } {
  const w = Math.max(panel.w, 1e-6);
  const h = Math.max(panel.h, 1e-6);
  const scale = Math.max(longSide / Math.max(w, h), 64 / Math.min(w, h));
  const r8 = (v: number) => Math.max(64, Math.round(v / 8) * 8);
  return { width: r8(w * scale), height: r8(h * scale) };
}

function base(s: GenerateSettings): { prompt: ComfyPrompt; model: [string, number]; clip: [string, number]; vae: [string, number] } {
  const prompt: ComfyPrompt = { ckpt: { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: s.checkpoint }, _meta: { title: 'Load checkpoint' } } };
  let model: [string, number] = ['ckpt', 0];
  let clip: [string, number] = ['ckpt', 1];
  s.loras.forEach((l, i) => {
    const id = `lora${i}`;
    prompt[id] = { class_type: 'LoraLoader', inputs: { model, clip, lora_name: l.name, strength_model: l.strength, strength_clip: l.strength }, _meta: { title: `LoRA ${l.name}` } };
    model = [id, 0];
    clip = [id, 1];
  });
  prompt.pos = { class_type: 'CLIPTextEncode', inputs: { clip, text: s.positive }, _meta: { title: 'Prompt' } };
  prompt.neg = { class_type: 'CLIPTextEncode', inputs: { clip, text: s.negative }, _meta: { title: 'Negative prompt' } };
  prompt.latent = { class_type: 'EmptyLatentImage', inputs: { width: s.width, height: s.height, batch_size: s.batch }, _meta: { title: 'Canvas' } };
  return { prompt, model, clip, vae: ['ckpt', 2] };
}

function sampleAndSave(prompt: ComfyPrompt, s: GenerateSettings, model: [string, number], positive: [string, number], negative: [string, number], vae: [string, number]): ComfyPrompt {
  prompt.sample = {
    class_type: 'KSampler',
    inputs: { model, seed: s.seed, steps: s.steps, cfg: s.cfg, sampler_name: s.sampler, scheduler: s.scheduler, positive, negative, latent_image: ['latent', 0], denoise: 1 },
    _meta: { title: 'Sampling' },
  };
  prompt.decode = { class_type: 'VAEDecode', inputs: { samples: ['sample', 0], vae }, _meta: { title: 'Decode' } };
  prompt.save = { class_type: 'SaveImage', inputs: { images: ['decode', 0], filename_prefix: 'studio/panel' }, _meta: { title: 'Save' } };
  return prompt;
}

export function textToPanel(s: GenerateSettings): ComfyPrompt {
  const { prompt, model, vae } = base(s);
  return sampleAndSave(prompt, s, model, ['pos', 0], ['neg', 0], vae);
}

/** What makes a generation follow the sketch: a ControlNet, or a (lighter, faster) T2I-Adapter. */
export type SketchGuideKind = 'controlnet' | 't2i-adapter';

/**
 * Sketch → panel through a ControlNet or a T2I-Adapter. The one "sketch fidelity" slider of the study sets
 * strength and end_percent together: 0 ignores the sketch, 1 follows it to the last step (for an adapter:
 * its scale and the last step its features are added at, inkflow's adapter apply node). The sketch is drawn
 * dark on white; scribble ControlNets and sketch adapters were trained on white lines on black, so it is
 * inverted first. Loaded with ControlNetLoader either way (it lists both folders, as ComfyUI does).
 */
export function sketchToPanel(s: GenerateSettings, sketch: { image: string; guide: string; kind: SketchGuideKind; fidelity: number }): ComfyPrompt {
  const { prompt, model, vae } = base(s);
  const f = Math.min(1, Math.max(0, sketch.fidelity));
  prompt.sketch = { class_type: 'LoadImage', inputs: { image: sketch.image }, _meta: { title: 'Sketch' } };
  prompt.invert = { class_type: 'ImageInvert', inputs: { image: ['sketch', 0] }, _meta: { title: 'Sketch as white lines' } };
  if (sketch.kind === 't2i-adapter') {
    prompt.cn = { class_type: 'ControlNetLoader', inputs: { control_net_name: sketch.guide }, _meta: { title: 'Load T2I-Adapter' } };
    prompt.apply = {
      class_type: 'InkflowT2IAdapterApply',
      inputs: { positive: ['pos', 0], negative: ['neg', 0], adapter: ['cn', 0], image: ['invert', 0], scale: f, start_percent: 0, end_percent: f },
      _meta: { title: 'Follow the sketch' },
    };
  } else {
    prompt.cn = { class_type: 'ControlNetLoader', inputs: { control_net_name: sketch.guide }, _meta: { title: 'Load ControlNet' } };
    prompt.apply = {
      class_type: 'ControlNetApplyAdvanced',
      inputs: { positive: ['pos', 0], negative: ['neg', 0], control_net: ['cn', 0], image: ['invert', 0], strength: f, start_percent: 0, end_percent: f },
      _meta: { title: 'Follow the sketch' },
    };
  }
  return sampleAndSave(prompt, s, model, ['apply', 0], ['apply', 1], vae);
}

export interface NodeInfo {
  input: { required?: Record<string, unknown[]>; optional?: Record<string, unknown[]> };
  output?: string[];
  category?: string;
  display_name?: string;
}

export interface FlatColouriser {
  node: string;
  lineartInput: string;
  referenceInput: string;
  /** Inputs with a default, filled in as the server declares them. */
  defaults: Record<string, unknown>;
}

/**
 * Finds the server's flat colouriser: a node in an inkflow category whose name says "flat" and which
 * takes two IMAGE inputs, one for line art and one for the reference sheet. null when the server has none.
 */
export function findFlatColouriser(info: Record<string, NodeInfo>): FlatColouriser | null {
  for (const [node, spec] of Object.entries(info)) {
    if (!/flat/i.test(node) || !/colou?r/i.test(`${node} ${spec.display_name ?? ''} ${spec.category ?? ''}`)) continue;
    const required = spec.input.required ?? {};
    const images = Object.entries(required).filter(([, v]) => v[0] === 'IMAGE').map(([k]) => k);
    if (images.length !== 2) continue;
    const lineartInput = images.find((k) => /line|sketch|blueprint/i.test(k)) ?? images[0];
    const referenceInput = images.find((k) => k !== lineartInput)!;
    const defaults: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(required)) {
      if (k === lineartInput || k === referenceInput) continue;
      const opts = v[1] as { default?: unknown } | undefined;
      if (opts && 'default' in opts) defaults[k] = opts.default;
      else if (Array.isArray(v[0]) && v[0].length) defaults[k] = v[0][0];
    }
    return { node, lineartInput, referenceInput, defaults };
  }
  return null;
}

export function flatColourPanel(c: FlatColouriser, lineart: string, reference: string, options: Record<string, unknown> = {}): ComfyPrompt {
  return {
    lineart: { class_type: 'LoadImage', inputs: { image: lineart }, _meta: { title: 'Line art' } },
    sheet: { class_type: 'LoadImage', inputs: { image: reference }, _meta: { title: 'Character sheet' } },
    colour: { class_type: c.node, inputs: { ...c.defaults, ...options, [c.lineartInput]: ['lineart', 0], [c.referenceInput]: ['sheet', 0] }, _meta: { title: 'Flat colours' } },
    save: { class_type: 'SaveImage', inputs: { images: ['colour', 0], filename_prefix: 'studio/flat' }, _meta: { title: 'Save' } },
  };
}

/**
 * Inpainting: repaints the masked part of a panel's picture, `s.batch` candidates at once. The mask comes
 * from a PNG whose transparent pixels mark the area to repaint (LoadImage's MASK output is 1 − alpha);
 * the mask grows by 32 px, as the study recommends, so the new part blends in.
 */
export function inpaintPanel(s: GenerateSettings, picture: string, maskPicture: string, growMaskBy = 32): ComfyPrompt {
  const { prompt, model, vae } = base(s);
  delete prompt.latent;
  prompt.picture = { class_type: 'LoadImage', inputs: { image: picture }, _meta: { title: 'Panel picture' } };
  prompt.mask = { class_type: 'LoadImage', inputs: { image: maskPicture }, _meta: { title: 'Mask' } };
  prompt.encode = { class_type: 'VAEEncodeForInpaint', inputs: { pixels: ['picture', 0], vae, mask: ['mask', 1], grow_mask_by: growMaskBy }, _meta: { title: 'Prepare the masked area' } };
  prompt.latent = { class_type: 'RepeatLatentBatch', inputs: { samples: ['encode', 0], amount: Math.max(1, s.batch) }, _meta: { title: 'Candidates' } };
  return sampleAndSave(prompt, s, model, ['pos', 0], ['neg', 0], vae);
}

/**
 * The detailer on a box: the box is cut out, enlarged to `size` on its long side, repainted at
 * `denoise` (0.45 by default, the study's face-detailer value), scaled back and pasted where it was.
 * Built from ComfyUI core nodes; `box` is in the picture's pixels.
 */
export function detailBox(s: GenerateSettings, picture: string, box: { x: number; y: number; width: number; height: number }, denoise = 0.45): ComfyPrompt {
  const { prompt, model, vae } = base(s);
  delete prompt.latent;
  const w = Math.max(8, Math.round(box.width));
  const h = Math.max(8, Math.round(box.height));
  const scale = s.width / Math.max(w, h);
  const r8 = (v: number) => Math.max(64, Math.round(v / 8) * 8);
  prompt.picture = { class_type: 'LoadImage', inputs: { image: picture }, _meta: { title: 'Panel picture' } };
  prompt.crop = { class_type: 'ImageCrop', inputs: { image: ['picture', 0], width: w, height: h, x: Math.round(box.x), y: Math.round(box.y) }, _meta: { title: 'Cut out the box' } };
  prompt.up = { class_type: 'ImageScale', inputs: { image: ['crop', 0], upscale_method: 'lanczos', width: r8(w * scale), height: r8(h * scale), crop: 'disabled' }, _meta: { title: 'Enlarge' } };
  prompt.latent = { class_type: 'VAEEncode', inputs: { pixels: ['up', 0], vae }, _meta: { title: 'Encode the box' } };
  sampleAndSave(prompt, s, model, ['pos', 0], ['neg', 0], vae);
  prompt.sample.inputs.denoise = denoise;
  prompt.down = { class_type: 'ImageScale', inputs: { image: ['decode', 0], upscale_method: 'lanczos', width: w, height: h, crop: 'disabled' }, _meta: { title: 'Back to size' } };
  prompt.paste = { class_type: 'ImageCompositeMasked', inputs: { destination: ['picture', 0], source: ['down', 0], x: Math.round(box.x), y: Math.round(box.y), resize_source: false }, _meta: { title: 'Paste back' } };
  prompt.save.inputs.images = ['paste', 0];
  return prompt;
}

export interface ModelColouring {
  model: string;
  steps: number;
  seed: number;
  /** Snap every region to the sheet's nearest palette colour (InkflowPaletteLock). */
  paletteLock: boolean;
  /** With the palette lock: also save the shading it took out, as a separate picture. */
  keepShading: boolean;
}

/**
 * Colouring with a model (Stable Diffusion Reference Only folder or ColorizeDiffusion file in
 * models/colorize) through InkflowReferenceColorize, optionally locked to the sheet's palette; the locked
 * picture is saved by `save`, the shading (when kept) by `saveShading`.
 */
export function modelColourPanel(lineart: string, reference: string, m: ModelColouring): ComfyPrompt {
  const prompt: ComfyPrompt = {
    lineart: { class_type: 'LoadImage', inputs: { image: lineart }, _meta: { title: 'Line art' } },
    sheet: { class_type: 'LoadImage', inputs: { image: reference }, _meta: { title: 'Character sheet' } },
    colour: { class_type: 'InkflowReferenceColorize', inputs: { reference: ['sheet', 0], lineart: ['lineart', 0], model_name: m.model, steps: m.steps, seed: m.seed }, _meta: { title: 'Colouring' } },
  };
  let result: [string, number] = ['colour', 0];
  if (m.paletteLock) {
    prompt.lock = { class_type: 'InkflowPaletteLock', inputs: { image: ['colour', 0], lineart: ['lineart', 0], reference: ['sheet', 0], keep_shading: m.keepShading }, _meta: { title: 'Palette lock' } };
    result = ['lock', 0];
    if (m.keepShading) prompt.saveShading = { class_type: 'SaveImage', inputs: { images: ['lock', 1], filename_prefix: 'studio/shading' }, _meta: { title: 'Save shading' } };
  }
  prompt.save = { class_type: 'SaveImage', inputs: { images: result, filename_prefix: 'studio/colour' }, _meta: { title: 'Save' } };
  return prompt;
}
