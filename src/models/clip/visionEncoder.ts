// transformers CLIPVisionModel (and ...WithProjection) on the IR: patch conv, class token, positions,
// pre_layrnorm, encoder, post_layernorm on the class token → pooler_output, visual_projection → image_embeds.
// last_hidden_state is the encoder output WITHOUT post_layernorm (what SDRO feeds the UNet).
import { type Graph, type Tensor, createGraph } from '../../graph/graph.ts';
import type { WeightStore } from '../../graph/weights.ts';
import * as op from '../../graph/ops.ts';
import { conv2d, layerNorm, linear } from '../../graph/nn.ts';
import { compiledModels } from '../../runtime/compiledModels.ts';
import type { CompileOptions } from '../../runtime/session.ts';
import { openSafetensors } from '../../weights/safetensors.ts';
import { safetensorsWeights } from '../../weights/store.ts';
import { resolveComponent } from '../modelFolder.ts';
import { ClipConfigError, type ClipVisionConfig, parseClipVisionConfig } from './config.ts';
import { clipEncoderLayer } from './transformer.ts';
import type { F32Tensor } from './textEncoder.ts';
import { readTextLimited } from '../../files/readText.ts';

export interface ClipVisionGraphOptions {
  batch: number;
  withProjection?: boolean;
  /** Adds `hidden_states` [layers+1, B, N, D]: pre_layrnorm(embeddings), then each layer's output. */
  hiddenStates?: boolean;
  /**
   * Adds `local_tokens` [B, N−1, projection_dim]: every patch token (class token dropped) through
   * post_layernorm and visual_projection, as OpenCLIP's "local" tokens (ColorizeDiffusion's reference).
   */
  localTokens?: boolean;
}

/**
 * embeddings → pre_layrnorm → encoder layers on `pixels` [B, C, S, S], built in the caller's scope (the
 * `vision_model` module): every hidden state, pre_layrnorm(embeddings) first, last_hidden_state last.
 */
export function clipVisionHiddenStates(pixels: Tensor, cfg: ClipVisionConfig): Tensor[] {
  const g = pixels.graph;
  const b = pixels.shape[0];
  const d = cfg.hidden_size;
  const p = cfg.patch_size;
  const grid = cfg.image_size / p;
  const n = grid * grid + 1;
  const spec = { hidden: d, heads: cfg.num_attention_heads, intermediate: cfg.intermediate_size, act: cfg.hidden_act, eps: cfg.layer_norm_eps };
  const emb = g.within('embeddings', () => {
    const patches = conv2d(pixels, 'patch_embedding', cfg.num_channels, d, p, { stride: p, padding: 0, bias: false });
    const tokens = op.transpose(op.reshape(patches, [b, d, grid * grid]), [0, 2, 1]);
    const cls = op.expand(op.reshape(g.param('class_embedding', [d]), [1, 1, d]), [b, 1, d]);
    return op.add(op.concat([cls, tokens], 1), g.param('position_embedding.weight', [n, d]));
  });
  let h = layerNorm(emb, 'pre_layrnorm', cfg.layer_norm_eps);
  const states = [h];
  g.within('encoder', () => {
    for (let i = 0; i < cfg.num_hidden_layers; i++) {
      h = clipEncoderLayer(h, `layers.${i}`, spec, false);
      states.push(h);
    }
  });
  return states;
}

/** Input `pixel_values` [B, C, S, S]; outputs last_hidden_state, penultimate_hidden_state, pooler_output (+ optional). */
export function clipVisionGraph(cfg: ClipVisionConfig, opts: ClipVisionGraphOptions): Graph {
  const b = opts.batch;
  if (!Number.isInteger(b) || b <= 0) throw new ClipConfigError(`CLIP vision: batch must be a positive integer, got ${b}`);
  const d = cfg.hidden_size;
  const n = (cfg.image_size / cfg.patch_size) ** 2 + 1;
  const g = createGraph('clip_vision');
  const pixels = g.input('pixel_values', 'f32', [b, cfg.num_channels, cfg.image_size, cfg.image_size]);
  let localNormed: Tensor | undefined;
  let states: Tensor[] = [];
  const pooled = g.within('vision_model', () => {
    states = clipVisionHiddenStates(pixels, cfg);
    const h = states[states.length - 1];
    g.output('last_hidden_state', h);
    g.output('penultimate_hidden_state', states[states.length - 2]);
    if (opts.localTokens) localNormed = layerNorm(op.slice(h, [1], [1], [n]), 'post_layernorm', cfg.layer_norm_eps);
    return layerNorm(op.reshape(op.slice(h, [1], [0], [1]), [b, d]), 'post_layernorm', cfg.layer_norm_eps);
  });
  g.output('pooler_output', pooled);
  if (opts.withProjection) g.output('image_embeds', linear(pooled, 'visual_projection', d, cfg.projection_dim, false));
  if (localNormed) g.output('local_tokens', linear(localNormed, 'visual_projection', d, cfg.projection_dim, false));
  if (opts.hiddenStates) g.output('hidden_states', op.concat(states.map((t) => op.reshape(t, [1, b, n, d])), 0));
  return g;
}

export interface ClipVisionEncoder {
  readonly config: ClipVisionConfig;
  readonly hasProjection: boolean;
  /** pixel_values [B, C, S, S] (from the image processor) → last_hidden_state, penultimate_hidden_state, pooler_output (+ image_embeds, hidden_states). */
  encode(pixels: F32Tensor, opts?: { hiddenStates?: boolean; localTokens?: boolean }): Promise<Record<string, F32Tensor>>;
  release(): Promise<void>;
}

export function clipVisionEncoder(config: ClipVisionConfig, store: WeightStore, opts: Pick<CompileOptions, 'provider' | 'threads' | 'cacheDir' | 'fuse' | 'precision'> = {}): ClipVisionEncoder {
  const hasProjection = store.get('visual_projection.weight') !== undefined;
  const sessions = compiledModels(store, opts);
  return {
    config,
    hasProjection,
    async encode(pixels, eopts = {}) {
      const want = [config.num_channels, config.image_size, config.image_size];
      if (pixels.shape.length !== 4 || pixels.shape.slice(1).join(',') !== want.join(',')) {
        throw new ClipConfigError(`CLIP vision: pixel_values must be [B, ${want.join(', ')}], got [${pixels.shape.join(', ')}]`);
      }
      if (pixels.data.length !== pixels.shape.reduce((a, c) => a * c, 1)) throw new ClipConfigError(`CLIP vision: pixel_values has ${pixels.data.length} values for shape [${pixels.shape.join(', ')}]`);
      if (eopts.localTokens && !hasProjection) throw new ClipConfigError('CLIP vision: local tokens need the visual projection (visual_projection.weight), which these weights lack');
      const gopts = { batch: pixels.shape[0], withProjection: hasProjection, hiddenStates: eopts.hiddenStates ?? false, localTokens: eopts.localTokens ?? false };
      const model = await sessions.get(JSON.stringify(gopts), () => clipVisionGraph(config, gopts));
      const out = await model.run({ pixel_values: { dtype: 'f32', shape: pixels.shape, data: pixels.data } });
      const result: Record<string, F32Tensor> = {};
      for (const [name, t] of Object.entries(out)) result[name] = { shape: t.shape, data: t.data as Float32Array };
      return result;
    },
    release: () => sessions.release(),
  };
}

/** Loads a CLIPVisionModel from a diffusers `image_encoder/` folder, a pipeline folder containing one, or a model folder. */
export async function loadClipVisionEncoder(path: string, opts: Pick<CompileOptions, 'provider' | 'threads' | 'cacheDir' | 'fuse' | 'precision'> = {}): Promise<ClipVisionEncoder> {
  const files = resolveComponent(path, { subfolder: 'image_encoder', weightNames: ['model.safetensors'], what: 'CLIP image encoder' });
  if (!files.configPath) throw new ClipConfigError(`${path}: a CLIP image encoder needs its config.json; give the folder holding config.json and model.safetensors`);
  const config = parseClipVisionConfig(JSON.parse(readTextLimited(files.configPath)), files.configPath);
  const reader = openSafetensors(files.weightsPath);
  if (!reader.has('vision_model.embeddings.patch_embedding.weight')) {
    reader.close();
    throw new ClipConfigError(`${files.weightsPath}: no CLIP vision weights (vision_model.embeddings.patch_embedding.weight missing)`);
  }
  return clipVisionEncoder(config, safetensorsWeights(reader), opts);
}
