// inkflow's own nodes (category inkflow/): reference colouring (SDRO and ColorizeDiffusion, one node that
// tells them apart by the model), flat colouring, palette lock, line-art extraction (threshold, XDoG,
// Canny), background segmentation, and two conditioning helpers — the comic study's sketch-fidelity
// slider on a ControlNet, and T2I-Adapter apply with diffusers' scale.
import { randomInt } from 'node:crypto';
import { foregroundFromLineArt, clearBackground } from '../../imaging/borderFill.ts';
import { convertChannels, type Image } from '../../imaging/image.ts';
import type { Mask } from '../../imaging/masks.ts';
import { blueprintFromColour, canny, xdogLines } from '../../imaging/lineart.ts';
import { COLORIZE_MODES, type ColorizeMode } from '../../models/splitAttention/modes.ts';
import { colorizeFlat, colorizeWithModel, DEFAULT_FLAT_MATCHER, FLAT_MATCHERS, lockToPalette, type FlatMatcher } from '../../pipelines/colorize/colorizeLineArt.ts';
import { COLORIZE_DIFFUSION_DEFAULTS } from '../../pipelines/colorize/colorizeDiffusion.ts';
import { SDRO_DEFAULT_STEPS } from '../../pipelines/colorize/sdro.ts';
import { MAX_CACHE_INTERVAL, PRECISIONS } from '../../pipelines/colorize/fastModes.ts';
import { sketchFidelity } from '../../pipelines/generate/controlNet.ts';
import type { Conditioning } from '../../pipelines/generate/ksample.ts';
import type { RangedAdapterUse } from '../../pipelines/generate/adapterRanges.ts';
import { listModels, resolveModel } from '../folders.ts';
import type { NodeDef } from '../nodeSpec.ts';
import { batchEntryToImage, imagesToBatch, maskBatch, type ImageBatch, type MaskBatch } from '../values.ts';
import type { ClipVisionOutput } from './clipVision.ts';
import { withEveryPart } from './generationNodes.ts';
import type { ControlModel } from './loaders.ts';

const rgb = (b: ImageBatch, i = 0): Image => convertChannels(batchEntryToImage(b, i), 3);
const batchOf = (img: Image): ImageBatch => imagesToBatch([convertChannels(img, 3)]);

/**
 * The RGBA picture LoadImage split into IMAGE + MASK (= 1 − alpha). No mask: RGB. A mask of another size
 * (LoadImage's 64×64 zero placeholder for a file without alpha) means opaque.
 */
function withAlpha(b: ImageBatch, mask: MaskBatch | undefined): Image {
  const img = rgb(b);
  if (!mask) return img;
  const same = mask.height === img.height && mask.width === img.width;
  const n = img.width * img.height;
  const data = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    data[i * 4] = img.data[i * 3];
    data[i * 4 + 1] = img.data[i * 3 + 1];
    data[i * 4 + 2] = img.data[i * 3 + 2];
    data[i * 4 + 3] = same ? Math.round((1 - mask.data[i]) * 255) : 255;
  }
  return { width: img.width, height: img.height, channels: 4, data };
}

export const InkflowFlatColorize: NodeDef = {
  name: 'InkflowFlatColorize',
  displayName: 'Flat Colorize (paint bucket)',
  description: 'Colours line art without a model: each line-art region gets the colour of the matching flat region of the reference sheet.',
  category: 'inkflow/colorize',
  pythonModule: 'inkflow',
  required: {
    reference: { type: 'IMAGE', link: true, tooltip: 'The character reference sheet.' },
    lineart: { type: 'IMAGE', link: true, tooltip: 'The line art to colour (dark lines on light paper, or white on black).' },
  },
  optional: {
    reference_mask: { type: 'MASK', link: true, tooltip: "Load Image's MASK of the reference (1 − alpha): transparent sheet background is not a colour region." },
    lineart_mask: { type: 'MASK', link: true, tooltip: "Load Image's MASK of the line art (1 − alpha): a line layer on transparency." },
    matcher: { type: 'COMBO', options: FLAT_MATCHERS, default: DEFAULT_FLAT_MATCHER, tooltip: 'learned (default): the hand-set costs blended with the small learned matcher, and the learned background decision (models/default/flat-matcher); hand: the model-free matcher.' },
  },
  outputs: [{ type: 'IMAGE', name: 'colored' }, { type: 'IMAGE', name: 'flat' }, { type: 'IMAGE', name: 'uncertain' }],
  run(v) {
    const r = colorizeFlat(withAlpha(v.reference as ImageBatch, v.reference_mask as MaskBatch | undefined), withAlpha(v.lineart as ImageBatch, v.lineart_mask as MaskBatch | undefined), (v.matcher as FlatMatcher | undefined) ?? DEFAULT_FLAT_MATCHER);
    return { outputs: [batchOf(r.image), batchOf(r.layers[0].image), batchOf(r.layers[1].image)], ui: { inkflow_settings: [r.settings], inkflow_warnings: r.warnings } };
  },
};

export const InkflowReferenceColorize: NodeDef = {
  name: 'InkflowReferenceColorize',
  displayName: 'Reference Colorize (SDRO / ColorizeDiffusion)',
  description: 'Colours line art from a reference with a Stable Diffusion Reference Only folder or a ColorizeDiffusion file from the colorize models folder.',
  category: 'inkflow/colorize',
  pythonModule: 'inkflow',
  required: {
    reference: { type: 'IMAGE', link: true },
    lineart: { type: 'IMAGE', link: true },
    model_name: { type: 'COMBO', options: (env) => listModels(env, 'colorize'), tooltip: 'An SDRO model folder or a ColorizeDiffusion .safetensors in models/colorize.' },
    steps: { type: 'INT', default: SDRO_DEFAULT_STEPS, min: 1, max: 1000 },
    seed: { type: 'INT', default: 0, min: 0, max: 18446744073709551615, extra: { control_after_generate: true } },
  },
  optional: {
    mode: { type: 'COMBO', options: COLORIZE_MODES, tooltip: 'ColorizeDiffusion only: vanilla, fg_enhance (= bg2fig, foreground LoRA), bg_enhance (background LoRA) or fig2fig (both LoRAs).' },
    sketch_mask: { type: 'MASK', link: true, tooltip: "ColorizeDiffusion only: the line art's foreground mask (default: border flood fill)." },
    reference_mask: { type: 'MASK', link: true, tooltip: "ColorizeDiffusion only: the reference's foreground mask (default: border flood fill)." },
    reference_strength: { type: 'FLOAT', default: 1, min: 0, max: 100, step: 0.01, tooltip: 'ColorizeDiffusion only: reference strength of every cross-attention.' },
    block_strengths: { type: 'STRING', default: '', tooltip: 'ColorizeDiffusion only: comma-separated reference strengths, one per cross-attention in the original order (overrides reference_strength).' },
    ref_guidance: { type: 'FLOAT', default: COLORIZE_DIFFUSION_DEFAULTS.referenceGuidance, min: 0, max: 100, step: 0.1, tooltip: 'ColorizeDiffusion only: reference guidance scale.' },
    sketch_guidance: { type: 'FLOAT', default: COLORIZE_DIFFUSION_DEFAULTS.sketchGuidance, min: 0, max: 100, step: 0.1, tooltip: 'ColorizeDiffusion only: sketch guidance scale.' },
    prediction: { type: 'COMBO', options: ['eps', 'v'], tooltip: 'ColorizeDiffusion only: override the prediction type.' },
    segment: { type: 'BOOLEAN', default: false, tooltip: 'SDRO only: clear the line art background first.' },
    reference_encoder: { type: 'COMBO', options: (env) => listModels(env, 'clip_vision'), tooltip: 'ColorizeDiffusion only: an open_clip ViT-H-14 file, for checkpoints saved without their cond stage.' },
    reference_embedding: { type: 'CLIP_VISION_OUTPUT', link: true, tooltip: "SDRO only: the reference encoded by CLIP Vision Encode (load the SDRO folder's image_encoder with Load CLIP Vision); replaces the model's own encoding of the reference." },
    precision: { type: 'COMBO', options: PRECISIONS, tooltip: 'SDRO only: int8 runs the image encoder, UNet and VAE quantised (faster, lossy: the error it adds is reported as a warning).' },
    cache_steps: { type: 'INT', default: 1, min: 1, max: MAX_CACHE_INTERVAL, tooltip: 'SDRO only: step caching — the full UNet every N steps (and the first and last), only its shallow blocks in between. 1 = off (exact).' },
  },
  outputs: [{ type: 'IMAGE' }],
  async run(v, ctx) {
    const model = resolveModel(ctx.env, 'colorize', String(v.model_name));
    const r = await colorizeWithModel({
      reference: rgb(v.reference as ImageBatch), lineArt: rgb(v.lineart as ImageBatch), model,
      steps: Number(v.steps), seed: typeof v.seed === 'bigint' ? v.seed : BigInt(Number(v.seed)),
      mode: v.mode as ColorizeMode | undefined,
      referenceGuidance: v.ref_guidance === undefined ? undefined : Number(v.ref_guidance),
      sketchGuidance: v.sketch_guidance === undefined ? undefined : Number(v.sketch_guidance),
      prediction: v.prediction === undefined ? undefined : v.prediction === 'eps' ? 'epsilon' : 'v_prediction',
      segment: v.segment === true ? true : undefined,
      sketchMask: maskOf(v.sketch_mask as MaskBatch | undefined),
      referenceMask: maskOf(v.reference_mask as MaskBatch | undefined),
      referenceStrength: referenceStrength(v.reference_strength, v.block_strengths),
      referenceEncoder: v.reference_encoder === undefined ? undefined : resolveModel(ctx.env, 'clip_vision', String(v.reference_encoder)),
      referenceEmbedding: firstEmbedding(v.reference_embedding as ClipVisionOutput | undefined),
      device: ctx.env.device,
      precision: v.precision === 'int8' ? 'int8' : undefined,
      cacheSteps: v.cache_steps === undefined ? undefined : Number(v.cache_steps),
      signal: ctx.signal,
      onStep: (step, total) => ctx.progress(step, total),
    });
    return { outputs: [batchOf(r.image)], ui: { inkflow_settings: [r.settings], inkflow_warnings: r.warnings } };
  },
};

/** The first image's last_hidden_state of a CLIP_VISION_OUTPUT: [1, tokens, width]. */
function firstEmbedding(o: ClipVisionOutput | undefined): { shape: number[]; data: Float32Array } | undefined {
  if (!o) return undefined;
  const [, tokens, width] = o.lastHiddenState.shape;
  return { shape: [1, tokens, width], data: o.lastHiddenState.data.subarray(0, tokens * width) };
}

/** The first mask of a batch as a pipeline mask. */
function maskOf(m: MaskBatch | undefined): Mask | undefined {
  return m && { width: m.width, height: m.height, data: m.data.subarray(0, m.width * m.height) };
}

/** block_strengths (comma-separated, one per cross-attention) wins over the single reference_strength. */
function referenceStrength(single: unknown, blocks: unknown): number | number[] | undefined {
  const text = typeof blocks === 'string' ? blocks.trim() : '';
  if (text) {
    const parts = text.split(',').map((t) => Number(t));
    if (parts.some((n, i) => !Number.isFinite(n) || n < 0 || text.split(',')[i].trim() === '')) throw new Error(`block_strengths must be comma-separated numbers ≥ 0, got "${text}"`);
    return parts;
  }
  return single === undefined ? undefined : Number(single);
}

export const InkflowPaletteLock: NodeDef = {
  name: 'InkflowPaletteLock',
  displayName: 'Palette Lock',
  description: "Snaps every line-art region of a coloured image to the reference's nearest palette colour.",
  category: 'inkflow/colorize',
  pythonModule: 'inkflow',
  required: {
    image: { type: 'IMAGE', link: true },
    lineart: { type: 'IMAGE', link: true },
    reference: { type: 'IMAGE', link: true },
    keep_shading: { type: 'BOOLEAN', default: false, tooltip: 'Also output the shading layer (the image before locking, relative to the flat colours).' },
  },
  optional: {
    lineart_mask: { type: 'MASK', link: true, tooltip: "Load Image's MASK of the line art (1 − alpha): a line layer on transparency." },
    reference_mask: { type: 'MASK', link: true, tooltip: "Load Image's MASK of the reference (1 − alpha): its transparent background is not a palette colour." },
  },
  outputs: [{ type: 'IMAGE', name: 'locked' }, { type: 'IMAGE', name: 'shading' }],
  run(v) {
    const r = lockToPalette(rgb(v.image as ImageBatch), withAlpha(v.lineart as ImageBatch, v.lineart_mask as MaskBatch | undefined), withAlpha(v.reference as ImageBatch, v.reference_mask as MaskBatch | undefined), v.keep_shading === true);
    const locked = batchOf(r.image);
    return { outputs: [locked, r.layers[0] ? batchOf(r.layers[0].image) : locked], ui: { inkflow_settings: [r.settings] } };
  },
};

export const InkflowLineArt: NodeDef = {
  name: 'InkflowLineArt',
  displayName: 'Line Art Extraction',
  description: 'Line art from an image: adaptive threshold (SDRO blueprint), XDoG or Canny; white lines on black.',
  category: 'inkflow/lineart',
  pythonModule: 'inkflow',
  required: {
    image: { type: 'IMAGE', link: true },
    method: { type: 'COMBO', options: ['threshold', 'xdog', 'canny'] },
    low_threshold: { type: 'INT', default: 100, min: 0, max: 255, tooltip: 'Canny only.' },
    high_threshold: { type: 'INT', default: 200, min: 0, max: 255, tooltip: 'Canny only.' },
  },
  outputs: [{ type: 'IMAGE' }],
  run(v) {
    const img = rgb(v.image as ImageBatch);
    const method = String(v.method);
    const lines = method === 'threshold' ? blueprintFromColour(img) : method === 'xdog' ? xdogLines(img) : canny(img, Number(v.low_threshold), Number(v.high_threshold));
    return { outputs: [batchOf(lines)] };
  },
};

export const InkflowSegmentBackground: NodeDef = {
  name: 'InkflowSegmentBackground',
  displayName: 'Segment Character (line art)',
  description: 'Finds the character in line art by flood-filling the background from the border; the background becomes white paper.',
  category: 'inkflow/segmentation',
  pythonModule: 'inkflow',
  required: {
    image: { type: 'IMAGE', link: true },
    gap_close: { type: 'INT', default: 2, min: 0, max: 64, tooltip: 'Closes line gaps up to this many pixels before filling.' },
  },
  outputs: [{ type: 'IMAGE', name: 'image' }, { type: 'MASK', name: 'foreground' }],
  run(v) {
    const img = rgb(v.image as ImageBatch);
    const fg = foregroundFromLineArt(img, { gapClose: Number(v.gap_close) });
    return { outputs: [batchOf(clearBackground(img, fg)), maskBatch(1, fg.height, fg.width, Float32Array.from(fg.data))] };
  },
};

export const InkflowSketchFidelityControlNet: NodeDef = {
  name: 'InkflowSketchFidelityControlNet',
  displayName: 'Apply ControlNet (sketch fidelity)',
  description: "The comic study's one slider: strength and end_percent move together (0 ignores the sketch, 1 follows it all the way).",
  category: 'inkflow/conditioning',
  pythonModule: 'inkflow',
  required: {
    positive: { type: 'CONDITIONING', link: true },
    negative: { type: 'CONDITIONING', link: true },
    control_net: { type: 'CONTROL_NET', link: true },
    image: { type: 'IMAGE', link: true },
    fidelity: { type: 'FLOAT', default: 0.75, min: 0, max: 1, step: 0.01 },
    max_strength: { type: 'FLOAT', default: 1, min: 0.01, max: 10, step: 0.01 },
  },
  outputs: [{ type: 'CONDITIONING', name: 'positive' }, { type: 'CONDITIONING', name: 'negative' }],
  run(v) {
    const sf = sketchFidelity(Number(v.fidelity), Number(v.max_strength));
    const net = v.control_net as ControlModel;
    if (net.kind !== 'controlnet') throw new Error('sketch fidelity needs a ControlNet (this is a T2I-Adapter; use InkflowT2IAdapterApply)');
    if (sf.strength === 0) return { outputs: [v.positive, v.negative] };
    const use = { controlNet: net.runner, hint: batchEntryToImage(v.image as ImageBatch, 0), ...sf, guessMode: false };
    const add = (c: Conditioning): Conditioning => withEveryPart(c, (p) => ({ ...p, controls: [...p.controls, use] }));
    return { outputs: [add(v.positive as Conditioning), add(v.negative as Conditioning)] };
  },
};

export const InkflowT2IAdapterApply: NodeDef = {
  name: 'InkflowT2IAdapterApply',
  displayName: 'Apply T2I-Adapter',
  description: 'Adds a T2I-Adapter (loaded with Load ControlNet Model) with diffusers semantics: its features × scale at every step, or only between start_percent and end_percent when either is given (the sketch-fidelity slider sets scale and end_percent together).',
  category: 'inkflow/conditioning',
  pythonModule: 'inkflow',
  required: {
    positive: { type: 'CONDITIONING', link: true },
    negative: { type: 'CONDITIONING', link: true },
    adapter: { type: 'CONTROL_NET', link: true },
    image: { type: 'IMAGE', link: true },
    scale: { type: 'FLOAT', default: 1, min: 0, max: 10, step: 0.01 },
  },
  // Optional, so a workflow without them keeps the every-step semantics it was written for.
  optional: {
    start_percent: { type: 'FLOAT', default: 0, min: 0, max: 1, step: 0.001 },
    end_percent: { type: 'FLOAT', default: 1, min: 0, max: 1, step: 0.001 },
  },
  outputs: [{ type: 'CONDITIONING', name: 'positive' }, { type: 'CONDITIONING', name: 'negative' }],
  run(v) {
    const net = v.adapter as ControlModel;
    if (net.kind !== 't2i-adapter') throw new Error('this model is a ControlNet, not a T2I-Adapter (use Apply ControlNet)');
    const scale = Number(v.scale);
    if (scale === 0) return { outputs: [v.positive, v.negative] };
    const ranged = v.start_percent !== undefined || v.end_percent !== undefined;
    const use: RangedAdapterUse = { path: net.path, image: batchEntryToImage(v.image as ImageBatch, 0), scale };
    if (ranged) {
      use.startPercent = Number(v.start_percent ?? 0);
      use.endPercent = Number(v.end_percent ?? 1);
      if (use.startPercent > use.endPercent) throw new Error(`start_percent (${use.startPercent}) must not be after end_percent (${use.endPercent})`);
    }
    const add = (c: Conditioning): Conditioning => withEveryPart(c, (p) => ({ ...p, adapters: [...p.adapters, use] }));
    return { outputs: [add(v.positive as Conditioning), add(v.negative as Conditioning)] };
  },
};

/** A fresh seed for a colouring the user gave none for (recorded, so it can be reproduced). */
export function randomSeed(): number {
  return randomInt(0, 2 ** 48 - 1);
}
