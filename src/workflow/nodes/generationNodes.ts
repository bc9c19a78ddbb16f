// Generation nodes over the node-sized pipeline steps: CLIPTextEncode (+ the SDXL encoders), ConditioningCombine,
// ConditioningSetArea, ControlNetApplyAdvanced,
// KSampler, VAEEncode, VAEEncodeForInpaint, VAEDecode. Inputs, defaults and tooltips as ComfyUI declares them.
// SD1/SD2 and SDXL checkpoints go through the same nodes; SDXL conditioning carries the pooled bigG embedding
// and the micro-conditioning KSampler feeds to the UNet.
import { encodePrompt } from '../../pipelines/generate/conditioning.ts';
import { encodeSdxlPrompt, type SdxlMicroConditioning, type SdxlPromptText } from '../../pipelines/generate/sdxlConditioning.ts';
import type { SdxlCheckpoint } from '../../models/checkpoint/sdxlCheckpoint.ts';
import { combineConditioning, ksample, type Conditioning, type SamplingCheckpoint } from '../../pipelines/generate/ksample.ts';
import type { Latent } from '../../pipelines/generate/latent.ts';
import { previewEachStep, stepPreviewer } from '../../pipelines/preview/stepPreviewer.ts';
import { inpaintModelConditioning, vaeDecode, vaeEncode, vaeEncodeForInpaint } from '../../pipelines/generate/vaeSteps.ts';
import { COMFY_SAMPLERS, COMFY_SCHEDULERS } from '../../sampling/comfy/ksampler.ts';
import { GENERATE_DEFAULTS } from '../../pipelines/generate/defaults.ts';
import type { NodeContext, NodeDef } from '../nodeSpec.ts';
import type { Checkpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import { batchEntryToImage, type ImageBatch, type MaskBatch } from '../values.ts';
import type { ControlModel } from './loaders.ts';
import { withLoraView, type ClipHandle, type ModelHandle, type VaeHandle } from './modelHandles.ts';

export const CLIPTextEncode: NodeDef = {
  name: 'CLIPTextEncode',
  displayName: 'CLIP Text Encode (Prompt)',
  description: 'Encodes a text prompt using a CLIP model into an embedding that can be used to guide the diffusion model towards generating specific images.',
  category: 'conditioning',
  required: {
    text: { type: 'STRING', multiline: true, extra: { dynamicPrompts: true }, tooltip: 'The text to be encoded.' },
    clip: { type: 'CLIP', link: true, tooltip: 'The CLIP model used for encoding the text.' },
  },
  outputs: [{ type: 'CONDITIONING', tooltip: 'A conditioning containing the embedded text used to guide the diffusion model.' }],
  async run(v, ctx) {
    const clip = v.clip as ClipHandle;
    const { value, ui } = await withLoraView(clip, 'text',
      async (c): Promise<Conditioning> => ({ text: await encodePrompt(c, String(v.text), { clipSkip: clip.clipSkip, signal: ctx.signal }), controls: [], adapters: [] }),
      (c) => encodeSdxlConditioning(c, clip, { g: String(v.text) }, {}, ctx.signal));
    return { outputs: [value], ui };
  },
};

/** SDXL CONDITIONING: both towers (or the refiner's bigG), pooled output and micro-conditioning. */
async function encodeSdxlConditioning(c: SdxlCheckpoint, clip: ClipHandle, text: SdxlPromptText, micro: SdxlMicroConditioning, signal: AbortSignal): Promise<Conditioning> {
  // ComfyUI's CLIPSetLastLayer moves both towers' layer; inkflow's SDXL encoders use the penultimate layer only.
  if (clip.clipSkip !== 1) throw new Error(`${c.path} is an SDXL checkpoint: CLIPSetLastLayer is not supported with SDXL yet`);
  const { context, pooled } = await encodeSdxlPrompt(c, text, { signal });
  return { text: context, controls: [], adapters: [], sdxl: { pooled, micro } };
}

function sdxlOnly(name: string) {
  return (c: Checkpoint): Promise<Conditioning> => Promise.reject(new Error(`${name} needs an SDXL checkpoint's CLIP; ${c.path} is ${c.family}`));
}

const SIZE = { type: 'INT', default: 1024, min: 0, max: 16384 } as const;

export const CLIPTextEncodeSDXL: NodeDef = {
  name: 'CLIPTextEncodeSDXL',
  category: 'advanced/conditioning',
  required: {
    width: SIZE,
    height: SIZE,
    crop_w: { type: 'INT', default: 0, min: 0, max: 16384 },
    crop_h: { type: 'INT', default: 0, min: 0, max: 16384 },
    target_width: SIZE,
    target_height: SIZE,
    text_g: { type: 'STRING', multiline: true, extra: { dynamicPrompts: true } },
    clip: { type: 'CLIP', link: true },
    text_l: { type: 'STRING', multiline: true, extra: { dynamicPrompts: true } },
  },
  outputs: [{ type: 'CONDITIONING' }],
  async run(v, ctx) {
    const clip = v.clip as ClipHandle;
    const micro: SdxlMicroConditioning = {
      width: Number(v.width), height: Number(v.height), cropW: Number(v.crop_w), cropH: Number(v.crop_h), targetWidth: Number(v.target_width), targetHeight: Number(v.target_height),
    };
    const { value, ui } = await withLoraView(clip, 'text', sdxlOnly('CLIPTextEncodeSDXL'), (c) => {
      if (c.kind === 'refiner') throw new Error(`${c.path} is an SDXL refiner: use CLIPTextEncodeSDXLRefiner`);
      return encodeSdxlConditioning(c, clip, { g: String(v.text_g), l: String(v.text_l) }, micro, ctx.signal);
    });
    return { outputs: [value], ui };
  },
};

export const CLIPTextEncodeSDXLRefiner: NodeDef = {
  name: 'CLIPTextEncodeSDXLRefiner',
  category: 'advanced/conditioning',
  required: {
    ascore: { type: 'FLOAT', default: 6, min: 0, max: 1000, step: 0.01 },
    width: SIZE,
    height: SIZE,
    text: { type: 'STRING', multiline: true, extra: { dynamicPrompts: true } },
    clip: { type: 'CLIP', link: true },
  },
  outputs: [{ type: 'CONDITIONING' }],
  async run(v, ctx) {
    const clip = v.clip as ClipHandle;
    const micro: SdxlMicroConditioning = { width: Number(v.width), height: Number(v.height), aestheticScore: Number(v.ascore) };
    const { value, ui } = await withLoraView(clip, 'text', sdxlOnly('CLIPTextEncodeSDXLRefiner'), (c) => {
      if (c.kind !== 'refiner') throw new Error(`${c.path} is an SDXL base checkpoint: use CLIPTextEncodeSDXL`);
      return encodeSdxlConditioning(c, clip, { g: String(v.text) }, micro, ctx.signal);
    });
    return { outputs: [value], ui };
  },
};

export const ConditioningCombine: NodeDef = {
  name: 'ConditioningCombine',
  displayName: 'Conditioning (Combine)',
  category: 'conditioning',
  required: { conditioning_1: { type: 'CONDITIONING', link: true }, conditioning_2: { type: 'CONDITIONING', link: true } },
  outputs: [{ type: 'CONDITIONING' }],
  run(v) {
    return { outputs: [combineConditioning(v.conditioning_1 as Conditioning, v.conditioning_2 as Conditioning)] };
  },
};

const AREA_SIDE = { type: 'INT', default: 64, min: 64, max: 16384, step: 8 } as const;
const AREA_OFFSET = { type: 'INT', default: 0, min: 0, max: 16384, step: 8 } as const;

/** ConditioningSetArea: every prompt of the conditioning applies to a box, stored in latent units (pixels // 8). */
export const ConditioningSetArea: NodeDef = {
  name: 'ConditioningSetArea',
  displayName: 'Conditioning (Set Area)',
  category: 'conditioning',
  required: {
    conditioning: { type: 'CONDITIONING', link: true },
    width: AREA_SIDE,
    height: AREA_SIDE,
    x: AREA_OFFSET,
    y: AREA_OFFSET,
    strength: { type: 'FLOAT', default: 1, min: 0, max: 10, step: 0.01 },
  },
  outputs: [{ type: 'CONDITIONING' }],
  run(v) {
    const div8 = (k: string) => Math.floor(Number(v[k]) / 8);
    const area = { height: div8('height'), width: div8('width'), y: div8('y'), x: div8('x') };
    const strength = Number(v.strength);
    return { outputs: [withEveryPart(v.conditioning as Conditioning, (p) => ({ ...p, area, strength }))] };
  },
};

export const ControlNetApplyAdvanced: NodeDef = {
  name: 'ControlNetApplyAdvanced',
  displayName: 'Apply ControlNet',
  category: 'conditioning/controlnet',
  required: {
    positive: { type: 'CONDITIONING', link: true },
    negative: { type: 'CONDITIONING', link: true },
    control_net: { type: 'CONTROL_NET', link: true },
    image: { type: 'IMAGE', link: true },
    strength: { type: 'FLOAT', default: 1, min: 0, max: 10, step: 0.01 },
    start_percent: { type: 'FLOAT', default: 0, min: 0, max: 1, step: 0.001 },
    end_percent: { type: 'FLOAT', default: 1, min: 0, max: 1, step: 0.001 },
  },
  optional: { vae: { type: 'VAE', link: true } },
  outputs: [{ type: 'CONDITIONING', name: 'positive' }, { type: 'CONDITIONING', name: 'negative' }],
  run(v) {
    const pos = v.positive as Conditioning;
    const neg = v.negative as Conditioning;
    const strength = Number(v.strength);
    if (strength === 0) return { outputs: [pos, neg] };
    const net = v.control_net as ControlModel;
    const hint = batchEntryToImage(v.image as ImageBatch, 0);
    const startPercent = Number(v.start_percent);
    const endPercent = Number(v.end_percent);
    if (net.kind === 't2i-adapter') {
      // Features × strength while σ(end_percent) ≤ σ ≤ σ(start_percent), the ControlNets' percent → σ rule
      // (pipelines/generate/adapterRanges.ts); the full range is every step, sampled without the per-step switch.
      const range = startPercent > 0 || endPercent < 1 ? { startPercent, endPercent } : {};
      const add = (c: Conditioning): Conditioning => withEveryPart(c, (p) => ({ ...p, adapters: [...p.adapters, { path: net.path, image: hint, scale: strength, ...range }] }));
      return { outputs: [add(pos), add(neg)] };
    }
    const use = { controlNet: net.runner, hint, strength, startPercent, endPercent, guessMode: false };
    const add = (c: Conditioning): Conditioning => withEveryPart(c, (p) => ({ ...p, controls: [...p.controls, use] }));
    return { outputs: [add(pos), add(neg)] };
  },
};

/**
 * ComfyUI's (deprecated, still common) ControlNetApply: one conditioning, the whole schedule. Attached to the
 * positive prompt only, it controls only the conditional half of the CFG batch, as in ComfyUI.
 */
export const ControlNetApply: NodeDef = {
  name: 'ControlNetApply',
  displayName: 'Apply ControlNet (OLD)',
  category: 'conditioning/controlnet',
  required: {
    conditioning: { type: 'CONDITIONING', link: true },
    control_net: { type: 'CONTROL_NET', link: true },
    image: { type: 'IMAGE', link: true },
    strength: { type: 'FLOAT', default: 1, min: 0, max: 10, step: 0.01 },
  },
  outputs: [{ type: 'CONDITIONING' }],
  run(v) {
    const c = v.conditioning as Conditioning;
    const strength = Number(v.strength);
    if (strength === 0) return { outputs: [c] };
    const net = v.control_net as ControlModel;
    if (net.kind !== 'controlnet') throw new Error('Apply ControlNet (OLD) takes a ControlNet; apply a T2I-Adapter with Apply ControlNet (Advanced) or InkflowT2IAdapterApply');
    const use = { controlNet: net.runner, hint: batchEntryToImage(v.image as ImageBatch, 0), strength, startPercent: 0, endPercent: 1, guessMode: false };
    return { outputs: [withEveryPart(c, (p) => ({ ...p, controls: [...p.controls, use] }))] };
  },
};

/** A ControlNet or adapter applied to a combined conditioning applies to each of its prompts. */
export function withEveryPart(c: Conditioning, f: (part: Conditioning) => Conditioning): Conditioning {
  return { ...f(c), ...(c.others ? { others: c.others.map((o) => withEveryPart(o, f)) } : {}) };
}

/** ComfyUI's per-step callback: progress at once, then a preview of the step (TAESD or linear, see stepPreviewer). */
function progressWithPreview(ctx: NodeContext, model: ModelHandle) {
  const previewer = stepPreviewer(model.base.family, {
    vaeApproxDirs: ctx.env.modelDirs.vae_approx ?? [],
    provider: ctx.env.device ?? 'cpu',
    warn: (m) => console.warn(`inkflow: ${m}`),
  });
  const preview = previewEachStep(previewer, (bytes) => ctx.emit({ type: 'preview', format: 'JPEG', bytes }), (m) => console.warn(`inkflow: ${m}`));
  return (step: number, total: number, denoised: Float32Array, shape: Latent['shape']) => {
    ctx.progress(step, total);
    preview(denoised, shape);
  };
}

export const KSampler: NodeDef = {
  name: 'KSampler',
  description: 'Uses the provided model, positive and negative conditioning to denoise the latent image.',
  category: 'sampling',
  required: {
    model: { type: 'MODEL', link: true, tooltip: 'The model used for denoising the input latent.' },
    seed: { type: 'INT', default: 0, min: 0, max: 18446744073709551615, extra: { control_after_generate: true }, tooltip: 'The random seed used for creating the noise.' },
    steps: { type: 'INT', default: GENERATE_DEFAULTS.steps, min: 1, max: 10000, tooltip: 'The number of steps used in the denoising process.' },
    cfg: { type: 'FLOAT', default: GENERATE_DEFAULTS.cfg, min: 0, max: 100, step: 0.1, round: 0.01, tooltip: 'The Classifier-Free Guidance scale balances creativity and adherence to the prompt. Higher values result in images more closely matching the prompt however too high values will negatively impact quality.' },
    sampler_name: { type: 'COMBO', options: COMFY_SAMPLERS, tooltip: 'The algorithm used when sampling, this can affect the quality, speed, and style of the generated output.' },
    scheduler: { type: 'COMBO', options: COMFY_SCHEDULERS, tooltip: 'The scheduler controls how noise is gradually removed to form the image.' },
    positive: { type: 'CONDITIONING', link: true, tooltip: 'The conditioning describing the attributes you want to include in the image.' },
    negative: { type: 'CONDITIONING', link: true, tooltip: 'The conditioning describing the attributes you want to exclude from the image.' },
    latent_image: { type: 'LATENT', link: true, tooltip: 'The latent image to denoise.' },
    denoise: { type: 'FLOAT', default: GENERATE_DEFAULTS.denoise, min: 0, max: 1, step: 0.01, tooltip: 'The amount of denoising applied, lower values will maintain the structure of the initial image allowing for image to image sampling.' },
  },
  outputs: [{ type: 'LATENT', tooltip: 'The denoised latent.' }],
  async run(v, ctx) {
    const model = v.model as ModelHandle;
    const latent = v.latent_image as Latent;
    const seed = typeof v.seed === 'bigint' ? v.seed : BigInt(Number(v.seed));
    const sample = (m: SamplingCheckpoint) => ksample(m, v.positive as Conditioning, v.negative as Conditioning, latent, {
      seed, steps: Number(v.steps), cfg: Number(v.cfg), sampler: String(v.sampler_name), scheduler: String(v.scheduler), denoise: Number(v.denoise), prediction: model.prediction,
    }, { signal: ctx.signal, onStep: progressWithPreview(ctx, model), compile: { provider: ctx.env.device ?? 'cpu' }, cacheSteps: ctx.env.cacheSteps });
    const { value: out, ui } = await withLoraView(model, 'unet', sample, sample);
    return { outputs: [out], ui };
  },
};

export const KSamplerAdvanced: NodeDef = {
  name: 'KSamplerAdvanced',
  displayName: 'KSampler (Advanced)',
  category: 'sampling',
  required: {
    model: { type: 'MODEL', link: true },
    add_noise: { type: 'COMBO', options: ['enable', 'disable'] },
    noise_seed: { type: 'INT', default: 0, min: 0, max: 18446744073709551615, extra: { control_after_generate: true } },
    steps: { type: 'INT', default: GENERATE_DEFAULTS.steps, min: 1, max: 10000 },
    cfg: { type: 'FLOAT', default: GENERATE_DEFAULTS.cfg, min: 0, max: 100, step: 0.1, round: 0.01 },
    sampler_name: { type: 'COMBO', options: COMFY_SAMPLERS },
    scheduler: { type: 'COMBO', options: COMFY_SCHEDULERS },
    positive: { type: 'CONDITIONING', link: true },
    negative: { type: 'CONDITIONING', link: true },
    latent_image: { type: 'LATENT', link: true },
    start_at_step: { type: 'INT', default: 0, min: 0, max: 10000 },
    end_at_step: { type: 'INT', default: 10000, min: 0, max: 10000 },
    return_with_leftover_noise: { type: 'COMBO', options: ['disable', 'enable'] },
  },
  outputs: [{ type: 'LATENT' }],
  async run(v, ctx) {
    const model = v.model as ModelHandle;
    const seed = typeof v.noise_seed === 'bigint' ? v.noise_seed : BigInt(Number(v.noise_seed));
    const sample = (m: SamplingCheckpoint) => ksample(m, v.positive as Conditioning, v.negative as Conditioning, v.latent_image as Latent, {
      seed, steps: Number(v.steps), cfg: Number(v.cfg), sampler: String(v.sampler_name), scheduler: String(v.scheduler), denoise: 1, prediction: model.prediction,
      addNoise: v.add_noise !== 'disable', startStep: Number(v.start_at_step), lastStep: Number(v.end_at_step), forceFullDenoise: v.return_with_leftover_noise !== 'enable',
    }, { signal: ctx.signal, onStep: progressWithPreview(ctx, model), compile: { provider: ctx.env.device ?? 'cpu' }, cacheSteps: ctx.env.cacheSteps });
    const { value: out, ui } = await withLoraView(model, 'unet', sample, sample);
    return { outputs: [out], ui };
  },
};

export const VAEDecode: NodeDef = {
  name: 'VAEDecode',
  displayName: 'VAE Decode',
  description: 'Decodes latent images back into pixel space images.',
  category: 'latent',
  required: {
    samples: { type: 'LATENT', link: true, tooltip: 'The latent to be decoded.' },
    vae: { type: 'VAE', link: true, tooltip: 'The VAE model used for decoding the latent.' },
  },
  outputs: [{ type: 'IMAGE', tooltip: 'The decoded image.' }],
  async run(v, ctx) {
    return { outputs: [await vaeDecode((v.vae as VaeHandle).base, v.samples as Latent, ctx.signal)] };
  },
};

export const VAEEncode: NodeDef = {
  name: 'VAEEncode',
  displayName: 'VAE Encode',
  category: 'latent',
  required: { pixels: { type: 'IMAGE', link: true }, vae: { type: 'VAE', link: true } },
  outputs: [{ type: 'LATENT' }],
  async run(v, ctx) {
    return { outputs: [await vaeEncode((v.vae as VaeHandle).base, v.pixels as ImageBatch, ctx.signal)] };
  },
};

export const InpaintModelConditioning: NodeDef = {
  name: 'InpaintModelConditioning',
  category: 'conditioning/inpaint',
  required: {
    positive: { type: 'CONDITIONING', link: true },
    negative: { type: 'CONDITIONING', link: true },
    vae: { type: 'VAE', link: true },
    pixels: { type: 'IMAGE', link: true },
    mask: { type: 'MASK', link: true },
    noise_mask: { type: 'BOOLEAN', default: true, tooltip: 'Add a noise mask to the latent so sampling will only happen within the mask. Might improve results or completely break things depending on the model.' },
  },
  outputs: [{ type: 'CONDITIONING', name: 'positive' }, { type: 'CONDITIONING', name: 'negative' }, { type: 'LATENT', name: 'latent' }],
  async run(v, ctx) {
    // The inpainting inputs travel with the LATENT (KSampler feeds them to 9-channel UNets); the conditionings pass through.
    const latent = await inpaintModelConditioning((v.vae as VaeHandle).base, v.pixels as ImageBatch, v.mask as MaskBatch, Boolean(v.noise_mask), ctx.signal);
    return { outputs: [v.positive, v.negative, latent] };
  },
};

export const VAEEncodeForInpaint: NodeDef = {
  name: 'VAEEncodeForInpaint',
  displayName: 'VAE Encode (for Inpainting)',
  category: 'latent/inpaint',
  required: {
    pixels: { type: 'IMAGE', link: true },
    vae: { type: 'VAE', link: true },
    mask: { type: 'MASK', link: true },
    grow_mask_by: { type: 'INT', default: GENERATE_DEFAULTS.growMaskBy, min: 0, max: 64, step: 1 },
  },
  outputs: [{ type: 'LATENT' }],
  async run(v, ctx) {
    return { outputs: [await vaeEncodeForInpaint((v.vae as VaeHandle).base, v.pixels as ImageBatch, v.mask as MaskBatch, Number(v.grow_mask_by), ctx.signal)] };
  },
};
