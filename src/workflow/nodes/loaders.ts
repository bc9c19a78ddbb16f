// Loader nodes: CheckpointLoaderSimple, LoraLoader, CLIPSetLastLayer, ControlNetLoader (ControlNets and,
// as in ComfyUI, T2I-Adapters), ModelSamplingDiscrete. Names resolve inside the environment's model folders.
import { readT2IAdapterConfig } from '../../models/checkpoint/adapterRunner.ts';
import { openControlNet, type ControlNetRunner } from '../../models/checkpoint/controlNetRunner.ts';
import { listModels, resolveModel } from '../folders.ts';
import type { NodeDef } from '../nodeSpec.ts';
import { openCheckpoint, type ClipHandle, type ModelHandle } from './modelHandles.ts';

export type ControlModel = { kind: 'controlnet'; runner: ControlNetRunner; path: string } | { kind: 't2i-adapter'; path: string };

export const CheckpointLoaderSimple: NodeDef = {
  name: 'CheckpointLoaderSimple',
  displayName: 'Load Checkpoint',
  description: 'Loads a diffusion model checkpoint, diffusion models are used to denoise latents.',
  category: 'loaders',
  required: { ckpt_name: { type: 'COMBO', options: (env) => listModels(env, 'checkpoints'), tooltip: 'The name of the checkpoint (model) to load.' } },
  outputs: [
    { type: 'MODEL', tooltip: 'The model used for denoising latents.' },
    { type: 'CLIP', tooltip: 'The CLIP model used for encoding text prompts.' },
    { type: 'VAE', tooltip: 'The VAE model used for encoding and decoding images to and from latent space.' },
  ],
  async run(v, ctx) {
    const base = await openCheckpoint(ctx, resolveModel(ctx.env, 'checkpoints', String(v.ckpt_name)));
    return { outputs: [{ base, loras: [] } satisfies ModelHandle, { base, loras: [], clipSkip: 1 } satisfies ClipHandle, { base }] };
  },
};

export const LoraLoader: NodeDef = {
  name: 'LoraLoader',
  displayName: 'Load LoRA',
  description: 'LoRAs are used to modify diffusion and CLIP models, altering the way in which latents are denoised such as applying styles. Multiple LoRA nodes can be linked together.',
  category: 'loaders',
  required: {
    model: { type: 'MODEL', link: true, tooltip: 'The diffusion model the LoRA will be applied to.' },
    clip: { type: 'CLIP', link: true, tooltip: 'The CLIP model the LoRA will be applied to.' },
    lora_name: { type: 'COMBO', options: (env) => listModels(env, 'loras'), tooltip: 'The name of the LoRA.' },
    strength_model: { type: 'FLOAT', default: 1, min: -100, max: 100, step: 0.01, tooltip: 'How strongly to modify the diffusion model. This value can be negative.' },
    strength_clip: { type: 'FLOAT', default: 1, min: -100, max: 100, step: 0.01, tooltip: 'How strongly to modify the CLIP model. This value can be negative.' },
  },
  outputs: [{ type: 'MODEL', tooltip: 'The modified diffusion model.' }, { type: 'CLIP', tooltip: 'The modified CLIP model.' }],
  run(v, ctx) {
    const path = resolveModel(ctx.env, 'loras', String(v.lora_name));
    const model = v.model as ModelHandle;
    const clip = v.clip as ClipHandle;
    const sm = Number(v.strength_model);
    const sc = Number(v.strength_clip);
    return {
      outputs: [
        sm === 0 ? model : { ...model, loras: [...model.loras, { path, strengthModel: sm, strengthClip: 0 }] },
        sc === 0 ? clip : { ...clip, loras: [...clip.loras, { path, strengthModel: 0, strengthClip: sc }] },
      ],
    };
  },
};

export const CLIPSetLastLayer: NodeDef = {
  name: 'CLIPSetLastLayer',
  displayName: 'CLIP Set Last Layer',
  category: 'conditioning',
  required: { clip: { type: 'CLIP', link: true }, stop_at_clip_layer: { type: 'INT', default: -1, min: -24, max: -1, step: 1 } },
  outputs: [{ type: 'CLIP' }],
  run(v) {
    return { outputs: [{ ...(v.clip as ClipHandle), clipSkip: -Number(v.stop_at_clip_layer) }] };
  },
};

function isT2IAdapter(path: string): boolean {
  try {
    readT2IAdapterConfig(path);
    return true;
  } catch {
    return false;
  }
}

export const ControlNetLoader: NodeDef = {
  name: 'ControlNetLoader',
  displayName: 'Load ControlNet Model',
  category: 'loaders',
  required: { control_net_name: { type: 'COMBO', options: (env) => [...new Set([...listModels(env, 'controlnet'), ...listModels(env, 't2i_adapter')])].sort() } },
  outputs: [{ type: 'CONTROL_NET' }],
  async run(v, ctx) {
    const name = String(v.control_net_name);
    let path: string;
    try {
      path = resolveModel(ctx.env, 'controlnet', name);
    } catch (e) {
      if (!ctx.env.modelDirs.t2i_adapter?.length) throw e;
      path = resolveModel(ctx.env, 't2i_adapter', name);
    }
    if (isT2IAdapter(path)) return { outputs: [{ kind: 't2i-adapter', path } satisfies ControlModel] };
    const runner = await ctx.models.get(`controlnet:${path}`, () => openControlNet(path, { provider: ctx.env.device ?? 'cpu' }), (r) => r.release());
    return { outputs: [{ kind: 'controlnet', runner, path } satisfies ControlModel] };
  },
};

export const ModelSamplingDiscrete: NodeDef = {
  name: 'ModelSamplingDiscrete',
  category: 'advanced/model',
  required: {
    model: { type: 'MODEL', link: true },
    sampling: { type: 'COMBO', options: ['eps', 'v_prediction'] },
    zsnr: { type: 'BOOLEAN', default: false },
  },
  outputs: [{ type: 'MODEL' }],
  run(v) {
    if (v.zsnr === true) throw new Error('ModelSamplingDiscrete: zsnr is not supported');
    return { outputs: [{ ...(v.model as ModelHandle), prediction: v.sampling as 'eps' | 'v_prediction' }] };
  },
};
