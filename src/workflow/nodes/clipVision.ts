// CLIPVisionLoader and CLIPVisionEncode with ComfyUI's names, inputs and outputs (nodes.py): a CLIP_VISION
// model from models/clip_vision, and its CLIP_VISION_OUTPUT for an IMAGE batch — last_hidden_state (final
// encoder layer, no post-layernorm), penultimate_hidden_states, image_embeds (projected pooled token, when the
// model has a projection). inkflow's InkflowReferenceColorize takes it as SDRO's reference embedding.
import { comfyClipPreprocess } from '../../models/clip/comfyClipPreprocess.ts';
import { loadClipVisionModel } from '../../models/clip/loadClipVisionModel.ts';
import type { F32Tensor } from '../../models/clip/textEncoder.ts';
import type { ClipVisionEncoder } from '../../models/clip/visionEncoder.ts';
import { listModels, resolveModel } from '../folders.ts';
import type { NodeDef } from '../nodeSpec.ts';
import type { ImageBatch } from '../values.ts';

export interface ClipVisionModel {
  path: string;
  encoder: ClipVisionEncoder;
}

/** ComfyUI's CLIP_VISION_OUTPUT (comfy.clip_vision.Output), batch first. */
export interface ClipVisionOutput {
  /** The model that made it, so a consumer can check it is the encoder it expects. */
  modelPath: string;
  lastHiddenState: F32Tensor;
  penultimateHiddenStates: F32Tensor;
  imageEmbeds?: F32Tensor;
}

export const CLIPVisionLoader: NodeDef = {
  name: 'CLIPVisionLoader',
  displayName: 'Load CLIP Vision',
  category: 'loaders',
  required: { clip_name: { type: 'COMBO', options: (env) => listModels(env, 'clip_vision') } },
  outputs: [{ type: 'CLIP_VISION' }],
  async run(v, ctx) {
    const path = resolveModel(ctx.env, 'clip_vision', String(v.clip_name));
    const encoder = await ctx.models.get(`clip_vision:${path}`, () => loadClipVisionModel(path, { provider: ctx.env.device ?? 'cpu' }), (e) => e.release());
    return { outputs: [{ path, encoder } satisfies ClipVisionModel] };
  },
};

export const CLIPVisionEncode: NodeDef = {
  name: 'CLIPVisionEncode',
  displayName: 'CLIP Vision Encode',
  category: 'conditioning',
  required: {
    clip_vision: { type: 'CLIP_VISION', link: true },
    image: { type: 'IMAGE', link: true },
    crop: { type: 'COMBO', options: ['center', 'none'] },
  },
  outputs: [{ type: 'CLIP_VISION_OUTPUT' }],
  async run(v, ctx) {
    const model = v.clip_vision as ClipVisionModel;
    const pixels = comfyClipPreprocess(v.image as ImageBatch, { size: model.encoder.config.image_size, crop: v.crop === 'center' });
    ctx.signal.throwIfAborted();
    const out = await model.encoder.encode(pixels);
    const result: ClipVisionOutput = {
      modelPath: model.path,
      lastHiddenState: out.last_hidden_state,
      penultimateHiddenStates: out.penultimate_hidden_state,
      ...(out.image_embeds ? { imageEmbeds: out.image_embeds } : {}),
    };
    return { outputs: [result] };
  },
};
