// transformers CLIPTextModel (and ...WithProjection) on the IR: token + position embeddings, causal
// pre-LN transformer, final LayerNorm, pooled output at the EOS token, optional text projection.
// SD1 uses OpenAI ViT-L/14 (quick_gelu); SD2's OpenCLIP ViT-H text tower is the same graph with gelu.
import { type Graph, type Tensor, createGraph } from '../../graph/graph.ts';
import type { WeightStore } from '../../graph/weights.ts';
import * as op from '../../graph/ops.ts';
import { layerNorm, linear } from '../../graph/nn.ts';
import { compiledModels } from '../../runtime/compiledModels.ts';
import type { CompileOptions } from '../../runtime/session.ts';
import { openSafetensors } from '../../weights/safetensors.ts';
import { detectClipTextLayout, ldmClipTextWeights, type ClipTextLayout } from '../../weights/keymaps/ldmClip.ts';
import { resolveComponent } from '../modelFolder.ts';
import { ClipConfigError, type ClipTextConfig, parseClipTextConfig } from './config.ts';
import { clipEncoderLayer } from './transformer.ts';
import { readTextLimited } from '../../files/readText.ts';

export interface ClipTextGraphOptions {
  batch: number;
  /** Token window; defaults to max_position_embeddings (77). */
  seqLen?: number;
  /** Adds `text_embeds` = text_projection(pooler_output) (needs `text_projection.weight`). */
  withProjection?: boolean;
  /** Adds `hidden_states` [layers+1, B, S, D]: the embeddings, then every layer's output (no final LN). */
  hiddenStates?: boolean;
  /**
   * Layers skipped for the "clip skip" outputs (default 1): `skip_hidden_state` = hidden_states[-(skip+1)]
   * and `skip_hidden_state_ln` = final_layer_norm of it (ComfyUI / diffusers clip_skip semantics).
   */
  skip?: number;
}

/**
 * The text tower on token ids [B, S] inside any graph (parameters under `text_model.`): the embeddings,
 * every layer's output (`states`), the state `skip` layers before the end, and last_hidden_state (final
 * LayerNorm). Training graphs put it in front of a UNet.
 */
export function clipTextStates(ids: Tensor, cfg: ClipTextConfig, skip = 1): { last: Tensor; states: Tensor[]; skipped: Tensor } {
  const g = ids.graph;
  const s = ids.shape[1];
  const d = cfg.hidden_size;
  const spec = { hidden: d, heads: cfg.num_attention_heads, intermediate: cfg.intermediate_size, act: cfg.hidden_act, eps: cfg.layer_norm_eps };
  const states: Tensor[] = [];
  const last = g.within('text_model', () => {
    let h = g.within('embeddings', () => {
      const tok = op.gather(g.param('token_embedding.weight', [cfg.vocab_size, d]), ids, 0);
      const pos = g.param('position_embedding.weight', [cfg.max_position_embeddings, d]);
      return op.add(tok, s === cfg.max_position_embeddings ? pos : op.slice(pos, [0], [0], [s]));
    });
    states.push(h);
    g.within('encoder', () => {
      for (let i = 0; i < cfg.num_hidden_layers; i++) {
        h = clipEncoderLayer(h, `layers.${i}`, spec, true);
        states.push(h);
      }
    });
    return layerNorm(h, 'final_layer_norm', cfg.layer_norm_eps);
  });
  return { last, states, skipped: states[states.length - 1 - skip] };
}

/** Builds the graph: input `input_ids` i64 [B, S]; outputs last_hidden_state, pooler_output, skip_* (+ optional ones). */
export function clipTextGraph(cfg: ClipTextConfig, opts: ClipTextGraphOptions): Graph {
  const s = opts.seqLen ?? cfg.max_position_embeddings;
  const b = opts.batch;
  const skip = opts.skip ?? 1;
  const d = cfg.hidden_size;
  const layers = cfg.num_hidden_layers;
  if (!Number.isInteger(b) || b <= 0) throw new ClipConfigError(`CLIP text: batch must be a positive integer, got ${b}`);
  if (!Number.isInteger(s) || s <= 0 || s > cfg.max_position_embeddings) throw new ClipConfigError(`CLIP text: sequence length must be 1..${cfg.max_position_embeddings}, got ${s}`);
  if (!Number.isInteger(skip) || skip < 0 || skip >= layers + 1) throw new ClipConfigError(`CLIP text: skip must be 0..${layers}, got ${skip}`);
  const g = createGraph('clip_text');
  const ids = g.input('input_ids', 'i64', [b, s]);
  const { last, states, skipped } = clipTextStates(ids, cfg, skip);
  g.output('skip_hidden_state', skipped);
  g.output('skip_hidden_state_ln', g.within('text_model', () => layerNorm(skipped, 'final_layer_norm', cfg.layer_norm_eps)));
  g.output('last_hidden_state', last);
  // Pool at the EOS position: argmax(ids) for the legacy eos_token_id 2 (transformers 4.27 always), else the
  // first eos_token_id. Gather from the flattened [B·S, D] states at b·S + position.
  const eos = cfg.eos_token_id;
  // (ArgMax runs on f32: ids < 2^24 are exact there, and ORT's CPU ArgMax has no int64 kernel.)
  const pos = eos === 2 || eos === null ? op.argMax(op.cast(ids, 'f32'), -1) : op.argMax(op.cast(op.equal(ids, op.scalar(ids, eos)), 'f32'), -1);
  const flatIdx = op.add(pos, op.constant(pos, Array.from({ length: b }, (_, i) => i * s), [b], 'i64'));
  const pooled = op.gather(op.reshape(last, [b * s, d]), flatIdx, 0);
  g.output('pooler_output', pooled);
  if (opts.withProjection) g.output('text_embeds', linear(pooled, 'text_projection', d, cfg.projection_dim, false));
  if (opts.hiddenStates) g.output('hidden_states', op.concat(states.map((t) => op.reshape(t, [1, b, s, d])), 0));
  return g;
}

export interface F32Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export type ClipTextOutputs = Record<string, F32Tensor>;

export interface ClipTextEncodeOptions {
  skip?: number;
  hiddenStates?: boolean;
}

export interface ClipTextEncoder {
  readonly config: ClipTextConfig;
  /** True when the weights include text_projection (the `text_embeds` output). */
  readonly hasProjection: boolean;
  /**
   * Encodes rows of token ids (all the same length, ≤ max_position_embeddings; 77 for SD). Returns
   * last_hidden_state, pooler_output, skip_hidden_state, skip_hidden_state_ln (+ text_embeds, hidden_states).
   */
  encode(ids: readonly (readonly number[])[], opts?: ClipTextEncodeOptions): Promise<ClipTextOutputs>;
  release(): Promise<void>;
}

export type LoadClipOptions = Pick<CompileOptions, 'provider' | 'threads' | 'cacheDir' | 'fuse'> & {
  /** A config.json for a single-file checkpoint instead of inferring one from tensor shapes. */
  configPath?: string;
};

/** A text encoder over an opened config + store; sessions are compiled per (batch, length, options). */
export function clipTextEncoder(config: ClipTextConfig, store: WeightStore, opts: LoadClipOptions = {}): ClipTextEncoder {
  const hasProjection = store.get('text_projection.weight') !== undefined;
  const sessions = compiledModels(store, opts);
  return {
    config,
    hasProjection,
    async encode(ids, eopts = {}) {
      if (ids.length === 0) throw new ClipConfigError('CLIP text: no token rows to encode');
      const s = ids[0].length;
      const flat = new BigInt64Array(ids.length * s);
      ids.forEach((row, r) => {
        if (row.length !== s) throw new ClipConfigError(`CLIP text: row ${r} has ${row.length} tokens, row 0 has ${s}`);
        row.forEach((t, j) => {
          if (!Number.isInteger(t) || t < 0 || t >= config.vocab_size) throw new ClipConfigError(`CLIP text: token id ${t} at row ${r}, position ${j} is outside the vocabulary 0..${config.vocab_size - 1}`);
          flat[r * s + j] = BigInt(t);
        });
      });
      const gopts: ClipTextGraphOptions = { batch: ids.length, seqLen: s, withProjection: hasProjection, skip: eopts.skip ?? 1, hiddenStates: eopts.hiddenStates ?? false };
      const model = await sessions.get(JSON.stringify(gopts), () => clipTextGraph(config, gopts));
      const out = await model.run({ input_ids: { dtype: 'i64', shape: [ids.length, s], data: flat } });
      const result: ClipTextOutputs = {};
      for (const [name, t] of Object.entries(out)) result[name] = { shape: t.shape, data: t.data as Float32Array };
      return result;
    },
    release: () => sessions.release(),
  };
}

/** Infers a config from tensor shapes (single-file checkpoints); OpenCLIP towers drop their last layer as diffusers does. */
export function inferClipTextConfig(store: WeightStore, layout: ClipTextLayout, source: string): ClipTextConfig {
  const shape = (n: string) => store.get(n)?.shape;
  const tok = shape('text_model.embeddings.token_embedding.weight');
  const pos = shape('text_model.embeddings.position_embedding.weight');
  const fc1 = shape('text_model.encoder.layers.0.mlp.fc1.weight');
  if (!tok || !pos || !fc1) throw new ClipConfigError(`${source}: incomplete CLIP text weights (token/position embedding or layer 0 missing)`);
  let layers = 0;
  if (layout.kind === 'openclip') layers = layout.layers - 1;
  else while (store.get(`text_model.encoder.layers.${layers}.layer_norm1.weight`)) layers++;
  const proj = shape('text_projection.weight');
  return parseClipTextConfig({
    vocab_size: tok[0],
    hidden_size: tok[1],
    max_position_embeddings: pos[0],
    intermediate_size: fc1[0],
    num_hidden_layers: layers,
    // Every released CLIP text tower uses 64-wide heads (others need a config.json: pass configPath).
    num_attention_heads: tok[1] % 64 === 0 ? tok[1] / 64 : 1,
    hidden_act: layout.kind === 'openclip' ? 'gelu' : 'quick_gelu',
    projection_dim: proj ? proj[0] : tok[1],
  }, source);
}

/** Loads a CLIP text encoder from a diffusers `text_encoder/` folder (or a pipeline folder) or a single file. */
export async function loadClipTextEncoder(path: string, opts: LoadClipOptions = {}): Promise<ClipTextEncoder> {
  const files = resolveComponent(path, { subfolder: 'text_encoder', weightNames: ['model.safetensors'], what: 'CLIP text encoder' });
  const reader = openSafetensors(files.weightsPath);
  const layout = detectClipTextLayout(reader);
  if (!layout) {
    reader.close();
    throw new ClipConfigError(`${files.weightsPath}: no CLIP text encoder weights found (looked for text_model.*, cond_stage_model.transformer.* and OpenCLIP cond_stage_model.model.* keys)`);
  }
  const store = ldmClipTextWeights(reader, layout);
  const configPath = opts.configPath ?? files.configPath;
  const config = configPath ? parseClipTextConfig(JSON.parse(readTextLimited(configPath)), configPath) : inferClipTextConfig(store, layout, files.weightsPath);
  return clipTextEncoder(config, store, opts);
}
