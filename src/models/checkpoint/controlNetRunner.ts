// A ControlNet (ComfyUI ControlNetLoader) opened once and compiled lazily per input shape, like the
// checkpoint's UNet: the pipeline's batch (CFG doubles it) and latent size are only known per request.
// Strength is a graph input (per batch entry), so strength changes never recompile; guess mode is a
// graph option. The file stays open until release().
import { compiledModels } from '../../runtime/compiledModels.ts';
import type { CompileOptions } from '../../runtime/session.ts';
import type { ControlNetConfig } from '../controlnet/config.ts';
import { hintScale } from '../controlnet/config.ts';
import { buildControlNetGraph, controlNetWeights, openControlNetCheckpoint } from '../controlnet/load.ts';
import { controlResidualShapes } from '../unet/unet.ts';
import { CheckpointError } from './family.ts';
import { compiledWeightBytes } from '../../weights/compiledWeightBytes.ts';

export interface ControlNetRunShape {
  batch: number;
  height: number;
  width: number;
  seqLen: number;
  guessMode: boolean;
}

export interface ControlNetRunInputs {
  sample: Float32Array;
  timestep: Float32Array;
  encoderHiddenStates: Float32Array;
  /** Hint image [batch, C, h·hintScale, w·hintScale], values in [0, 1]. */
  hint: Float32Array;
  /** Strength per batch entry. */
  scale: Float32Array;
  /** SDXL ControlNets ("text_time"): pooled text embedding [batch, D] and micro-conditioning ids [batch, k], as the UNet gets them. */
  textEmbeds?: Float32Array;
  timeIds?: Float32Array;
}

export interface ControlNetRunner {
  readonly path: string;
  readonly config: ControlNetConfig;
  /** Hint pixels per latent pixel (8 for SD ControlNets). */
  readonly hintScale: number;
  /** Bytes its compiled weights hold (fp16 files stay fp16), for memory estimates. */
  readonly weightBytes: number;
  forward(shape: ControlNetRunShape, inputs: ControlNetRunInputs): Promise<{ down: Float32Array[]; mid: Float32Array }>;
  release(): Promise<void>;
}

/** Opens a ControlNet (diffusers folder / file, or an LDM control_model file); compiles on first forward. */
export function openControlNet(path: string, opts: CompileOptions = {}): ControlNetRunner {
  const ckpt = openControlNetCheckpoint(path);
  const { store } = controlNetWeights(ckpt);
  const sessions = compiledModels(store, opts);
  let closed = false;
  const session = (shape: ControlNetRunShape) => {
    if (closed) throw new CheckpointError(`ControlNet ${path} was released`);
    return sessions.get(JSON.stringify(shape), () => buildControlNetGraph(ckpt.config, shape, { guessMode: shape.guessMode }));
  };
  return {
    path,
    config: ckpt.config,
    hintScale: hintScale(ckpt.config),
    weightBytes: compiledWeightBytes(ckpt.reader, ckpt.prefix),
    async forward(shape, x) {
      const feeds: Record<string, Float32Array> = {
        sample: x.sample,
        timestep: x.timestep,
        encoder_hidden_states: x.encoderHiddenStates,
        controlnet_cond: x.hint,
        conditioning_scale: x.scale,
      };
      const a = ckpt.config.unet.addition;
      if (a) {
        const b = shape.batch;
        if (x.textEmbeds?.length !== b * a.textEmbedDim || x.timeIds?.length !== b * a.timeIds) {
          throw new CheckpointError(`ControlNet ${path} is an SDXL ControlNet: it needs text_embeds [${b}×${a.textEmbedDim}] and time_ids [${b}×${a.timeIds}] (got ${x.textEmbeds?.length ?? 'none'} and ${x.timeIds?.length ?? 'none'} values)`);
        }
        feeds.text_embeds = x.textEmbeds;
        feeds.time_ids = x.timeIds;
      }
      const model = await session(shape);
      const out = await model.run(feeds);
      const n = controlResidualShapes(ckpt.config.unet, shape.batch, shape.height, shape.width).down.length;
      return { down: Array.from({ length: n }, (_, k) => out[`down_residual_${k}`].data as Float32Array), mid: out.mid_residual.data as Float32Array };
    },
    async release() {
      await sessions.release();
      if (!closed) ckpt.reader.close();
      closed = true;
    },
  };
}
