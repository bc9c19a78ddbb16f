// A checkpoint's UNet compiled lazily per input shape (shapes are static in the IR), over a weight
// store that may carry merged LoRAs. One session per (batch, latent size, context length, ControlNet,
// number of T2I-Adapter features).
import type { WeightStore } from '../../graph/weights.ts';
import { compiledModels } from '../../runtime/compiledModels.ts';
import type { CompileOptions } from '../../runtime/session.ts';
import { buildUNetGraph } from '../unet/load.ts';
import type { UNetConfig } from '../unet/config.ts';
import { adapterFeatureInputShapes } from '../unet/unet.ts';
import { CheckpointError } from './family.ts';

export interface UNetRunShape {
  batch: number;
  /** Latent height and width. */
  height: number;
  width: number;
  /** Context length (77 · windows). */
  seqLen: number;
  /** Declare ControlNet residual inputs. */
  controlNet: boolean;
  /** Declare this many T2I-Adapter feature inputs (absent or 0: none, and the same session as before adapters existed). */
  adapterFeatures?: number;
  /** Step caching graph (buildUNet deepCache); absent: the plain UNet (same session as before). */
  deepCache?: 'produce' | 'consume';
}

export interface UNetRunInputs {
  /** [batch, in_channels, h, w]. */
  sample: Float32Array;
  /** One timestep per batch entry. */
  timestep: Float32Array;
  encoderHiddenStates: Float32Array;
  downResiduals?: readonly Float32Array[];
  midResidual?: Float32Array;
  /** T2I-Adapter features for the whole batch, already scaled (shape.adapterFeatures of them). */
  adapterFeatures?: readonly Float32Array[];
  /** SDXL ("text_time" UNets): pooled text embedding [batch, textEmbedDim] and micro-conditioning ids [batch, timeIds]. */
  textEmbeds?: Float32Array;
  timeIds?: Float32Array;
}

export interface UNetRunner {
  readonly config: UNetConfig;
  forward(shape: UNetRunShape, inputs: UNetRunInputs): Promise<Float32Array>;
  /** As forward, on a step-caching graph (shape.deepCache): 'produce' also returns the deep features, 'consume' takes them. */
  forwardCached(shape: UNetRunShape, inputs: UNetRunInputs, deepFeatures?: Float32Array): Promise<{ sample: Float32Array; deepFeatures?: Float32Array }>;
  release(): Promise<void>;
}

export function unetRunner(config: UNetConfig, store: WeightStore, opts: CompileOptions): UNetRunner {
  const sessions = compiledModels(store, opts);
  // The key leaves adapterFeatures out when there are none, so those sessions keep their old keys.
  const key = ({ adapterFeatures, deepCache, ...rest }: UNetRunShape) => JSON.stringify({ ...rest, ...(adapterFeatures ? { adapterFeatures } : {}), ...(deepCache ? { deepCache } : {}) });
  const session = (shape: UNetRunShape) => sessions.get(key(shape), () => buildUNetGraph(config, shape, { controlNet: shape.controlNet, adapterFeatures: shape.adapterFeatures, deepCache: shape.deepCache }));
  const forward = async (shape: UNetRunShape, x: UNetRunInputs, deepFeatures?: Float32Array): Promise<{ sample: Float32Array; deepFeatures?: Float32Array }> => {
      const { batch: b, height: h, width: w, seqLen } = shape;
      const need = (name: string, a: Float32Array | undefined, n: number) => {
        if (!a || a.length !== n) throw new CheckpointError(`UNet ${name}: expected ${n} values, got ${a?.length ?? 'none'}`);
      };
      need('sample', x.sample, b * config.inChannels * h * w);
      need('timestep', x.timestep, b);
      need('encoder_hidden_states', x.encoderHiddenStates, b * seqLen * config.crossAttentionDim);
      const feeds: Record<string, Float32Array> = { sample: x.sample, timestep: x.timestep, encoder_hidden_states: x.encoderHiddenStates };
      const a = config.addition;
      if (a) {
        if (!x.textEmbeds || !x.timeIds) throw new CheckpointError('this SDXL-style UNet needs text_embeds (pooled text) and time_ids (micro-conditioning) inputs');
        need('text_embeds', x.textEmbeds, b * a.textEmbedDim);
        need('time_ids', x.timeIds, b * a.timeIds);
        feeds.text_embeds = x.textEmbeds;
        feeds.time_ids = x.timeIds;
      }
      const model = await session(shape);
      if (shape.controlNet) {
        const names = model.inputNames.filter((n) => n.startsWith('down_residual_'));
        if (!x.downResiduals || x.downResiduals.length !== names.length || !x.midResidual) {
          throw new CheckpointError(`UNet with ControlNet inputs needs ${names.length} down residuals and a mid residual`);
        }
        x.downResiduals.forEach((r, k) => (feeds[`down_residual_${k}`] = r));
        feeds.mid_residual = x.midResidual;
      }
      const count = shape.adapterFeatures ?? 0;
      if ((x.adapterFeatures?.length ?? 0) !== count) throw new CheckpointError(`UNet with ${count} T2I-Adapter feature inputs got ${x.adapterFeatures?.length ?? 0} features`);
      if (count) {
        const shapes = adapterFeatureInputShapes(config, b, h, w, count);
        x.adapterFeatures!.forEach((f, k) => {
          need(`T2I-Adapter feature ${k}`, f, shapes[k].reduce((p, q) => p * q, 1));
          feeds[`adapter_feature_${k}`] = f;
        });
      }
      if (shape.deepCache === 'consume') {
        if (!deepFeatures) throw new CheckpointError('a shallow (step-caching) UNet call needs the deep features of a full call');
        feeds.deep_features = deepFeatures;
      }
      const out = await model.run(feeds);
      return { sample: out.out_sample.data as Float32Array, deepFeatures: out.deep_features?.data as Float32Array | undefined };
  };
  return {
    config,
    forward: async (shape, x) => (await forward(shape, x)).sample,
    forwardCached: forward,
    release: () => sessions.release(),
  };
}
