// Loading a ControlNet the way users have it: a diffusers folder (config.json +
// diffusion_pytorch_model[.fp16].safetensors, or a pipeline folder with controlnet/), a diffusers-keyed
// .safetensors file (config.json beside it, or inferred from shapes), or an A1111 / ComfyUI single file
// with `control_model.*` keys (config inferred from shapes, or given). The result is a compiled session
// whose conditioning scale is an input, so strength changes never recompile.
import { createGraph, type Graph } from '../../graph/graph.ts';
import type { WeightStore } from '../../graph/weights.ts';
import { compile, type CompileOptions, type CompiledModel } from '../../runtime/session.ts';
import { openSafetensors, type SafetensorsReader } from '../../weights/safetensors.ts';
import { safetensorsWeights } from '../../weights/store.ts';
import { diffusersToLdmControlNetKey, LDM_CONTROLNET_PREFIX, type LdmControlNetLayout } from '../../weights/keymaps/ldmControlnet.ts';
import { componentConfigJson, resolveComponent } from '../modelFolder.ts';
import { controlResidualShapes } from '../unet/unet.ts';
import { hintScale, parseControlNetConfig, type ControlNetConfig } from './config.ts';
import { buildControlNet } from './controlNet.ts';
import { inferControlNetConfig, ldmControlNetLayout, shapeLookup } from './inferConfig.ts';
import { readTextLimited } from '../../files/readText.ts';

export class ControlNetLoadError extends Error {
  override name = 'ControlNetLoadError';
}

export interface ControlNetShapes {
  batch: number;
  /** Latent height and width; the hint image is hintScale× larger (8× for SD ControlNets). */
  height: number;
  width: number;
  /** encoder_hidden_states length (77 for one CLIP window). */
  seqLen: number;
}

export interface ControlNetGraphOptions {
  guessMode?: boolean;
  /** Also output `controlnet_cond_embedding` (the embedded hint), for tracing. */
  traceCondEmbedding?: boolean;
}

export interface LoadControlNetOptions extends ControlNetShapes, ControlNetGraphOptions, CompileOptions {
  /** A config (parsed, or raw config.json contents) overriding the one found beside the weights or inferred. */
  config?: ControlNetConfig | Record<string, unknown>;
}

export interface ControlNetForwardInputs {
  sample: Float32Array;
  /** One timestep for the whole batch, or one per sample. */
  timestep: number | readonly number[] | Float32Array;
  encoderHiddenStates: Float32Array;
  /** The hint image [B, C, h·s, w·s]. */
  cond: Float32Array;
  /** Conditioning scale (strength), one for the batch or one per sample; default 1. */
  scale?: number | readonly number[] | Float32Array;
  textEmbeds?: Float32Array;
  timeIds?: Float32Array;
}

/** Residuals in the order and shapes the UNet's downResiduals / midResidual take them. */
export interface ControlNetResiduals {
  down: Float32Array[];
  mid: Float32Array;
  /** Only with traceCondEmbedding. */
  condEmbedding?: Float32Array;
}

export type ControlNetLayout = 'diffusers' | 'ldm';

export interface LoadedControlNet {
  readonly config: ControlNetConfig;
  readonly model: CompiledModel;
  /** Graph input name → shape. */
  readonly inputShapes: Readonly<Record<string, readonly number[]>>;
  /** ControlNet keys in an LDM file that the graph did not use (a diffusers file with any is refused). */
  readonly unusedKeys: readonly string[];
  readonly source: { file: string; layout: ControlNetLayout };
  forward(inputs: ControlNetForwardInputs): Promise<ControlNetResiduals>;
  release(): Promise<void>;
}

/** Declares the graph inputs for the given sizes and builds the ControlNet; outputs down_residual_k, mid_residual. */
export function buildControlNetGraph(config: ControlNetConfig, shapes: ControlNetShapes, opts: ControlNetGraphOptions = {}): Graph {
  const { batch: b, height: h, width: w, seqLen } = shapes;
  const u = config.unet;
  const s = hintScale(config);
  const g = createGraph('controlnet');
  const sample = g.input('sample', 'f32', [b, u.inChannels, h, w]);
  const timestep = g.input('timestep', 'f32', [b]);
  const encoderHiddenStates = g.input('encoder_hidden_states', 'f32', [b, seqLen, u.crossAttentionDim]);
  const cond = g.input('controlnet_cond', 'f32', [b, config.conditioningChannels, h * s, w * s]);
  const scale = g.input('conditioning_scale', 'f32', [b]);
  const a = u.addition;
  const textEmbeds = a ? g.input('text_embeds', 'f32', [b, a.textEmbedDim]) : undefined;
  const timeIds = a ? g.input('time_ids', 'f32', [b, a.timeIds]) : undefined;
  const out = buildControlNet(g, config, { sample, timestep, encoderHiddenStates, cond, scale, guessMode: opts.guessMode, textEmbeds, timeIds });
  out.down.forEach((t, k) => g.output(`down_residual_${k}`, t));
  g.output('mid_residual', out.mid);
  if (opts.traceCondEmbedding) g.output('controlnet_cond_embedding', out.condEmbedding);
  return g;
}

export interface ControlNetCheckpoint {
  config: ControlNetConfig;
  /** The open weights file; close it when done. */
  reader: SafetensorsReader;
  file: string;
  layout: ControlNetLayout;
  /** Prefix of the ControlNet's keys in the file ("control_model." or ""). */
  prefix: string;
  /** Set for LDM files: the structure the key map needs. */
  ldmLayout?: LdmControlNetLayout;
}

function detectLayout(r: SafetensorsReader): { layout: ControlNetLayout; prefix: string } {
  if (r.has('controlnet_cond_embedding.conv_in.weight')) return { layout: 'diffusers', prefix: '' };
  if (r.has(`${LDM_CONTROLNET_PREFIX}input_hint_block.0.weight`)) return { layout: 'ldm', prefix: LDM_CONTROLNET_PREFIX };
  if (r.has('input_hint_block.0.weight')) return { layout: 'ldm', prefix: '' };
  const keys = [...r.tensors.keys()];
  if (keys.some((k) => k.includes('lora'))) {
    throw new ControlNetLoadError(`${r.path} looks like a LoRA / Control-LoRA; inkflow loads full ControlNets only (diffusers ControlNetModel or control_model.* files)`);
  }
  if (r.has('adapter.conv_in.weight') || r.has('adapter.body.0.in_conv.weight') || r.has('body.0.block1.weight')) {
    throw new ControlNetLoadError(`${r.path} is a T2I-Adapter, not a ControlNet; load it with loadT2IAdapter`);
  }
  throw new ControlNetLoadError(`${r.path} holds no ControlNet weights: looked for controlnet_cond_embedding.conv_in.weight (diffusers) and ${LDM_CONTROLNET_PREFIX}input_hint_block.0.weight (LDM single file)`);
}

function readConfigJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readTextLimited(path));
  } catch (e) {
    throw new ControlNetLoadError(`cannot read ControlNet config ${path}: ${(e as Error).message}`);
  }
}

function toConfig(c: ControlNetConfig | Record<string, unknown>): ControlNetConfig {
  return 'unet' in c && 'embeddingOutChannels' in c ? (c as ControlNetConfig) : parseControlNetConfig(c);
}

/**
 * Finds the weights and the config for `path` (folder or file) and opens the file. The config is, in
 * order: `configOverride`, config.json (in the folder, or a ControlNetModel config.json beside the file),
 * inferred from the tensor shapes.
 */
export function openControlNetCheckpoint(path: string, configOverride?: LoadControlNetOptions['config']): ControlNetCheckpoint {
  const files = resolveComponent(path, { subfolder: 'controlnet', weightNames: ['diffusion_pytorch_model.safetensors'], what: 'ControlNet' });
  const configJson = componentConfigJson(files, 'ControlNetModel', readConfigJson);
  const reader = openSafetensors(files.weightsPath);
  try {
    const { layout, prefix } = detectLayout(reader);
    const ldmLayout = layout === 'ldm' ? ldmControlNetLayout(reader, prefix) : undefined;
    let config: ControlNetConfig;
    if (configOverride) config = toConfig(configOverride);
    else if (configJson) config = parseControlNetConfig(configJson);
    else config = inferControlNetConfig(shapeLookup(reader, prefix, ldmLayout), files.weightsPath);
    if (ldmLayout) {
      // The key map follows the file's structure; a config that disagrees would bind the wrong tensors.
      const lpb = config.unet.down.map((d) => d.layers);
      if (lpb.join(',') !== ldmLayout.layersPerBlock.join(',') || config.embeddingOutChannels.length !== ldmLayout.conditioningStages) {
        throw new ControlNetLoadError(`${files.weightsPath}: the config (layers per block ${lpb.join(',')}, ${config.embeddingOutChannels.length} hint stages) does not match the file (${ldmLayout.layersPerBlock.join(',')}, ${ldmLayout.conditioningStages})`);
      }
    }
    return { config, reader, file: files.weightsPath, layout, prefix, ldmLayout };
  } catch (e) {
    reader.close();
    throw e;
  }
}

/** A WeightStore serving diffusers parameter names from the checkpoint, and the file key of each name. */
export function controlNetWeights(ckpt: ControlNetCheckpoint): { store: WeightStore; fileKey: (name: string) => string } {
  const { reader, prefix, ldmLayout } = ckpt;
  if (!ldmLayout) return { store: safetensorsWeights(reader, { prefix }), fileKey: (n) => prefix + n };
  const keyMap = (name: string) => diffusersToLdmControlNetKey(name, ldmLayout);
  return { store: safetensorsWeights(reader, { prefix, keyMap }), fileKey: (n) => prefix + (keyMap(n) ?? n) };
}

/** Loads and compiles a ControlNet from a diffusers folder, a diffusers .safetensors file or an LDM single file. */
export async function loadControlNet(path: string, opts: LoadControlNetOptions): Promise<LoadedControlNet> {
  for (const k of ['batch', 'height', 'width', 'seqLen'] as const) {
    if (!Number.isInteger(opts[k]) || opts[k] <= 0) throw new ControlNetLoadError(`loadControlNet: ${k} must be a positive integer, got ${opts[k]}`);
  }
  const ckpt = openControlNetCheckpoint(path, opts.config);
  try {
    const { config, reader, file, layout, prefix } = ckpt;
    const graph = buildControlNetGraph(config, opts, opts);
    const w = controlNetWeights(ckpt);
    const used = new Set([...graph.params.keys()].map(w.fileKey));
    const unusedKeys = [...reader.tensors.keys()].filter((k) => k.startsWith(prefix) && !used.has(k));
    if (layout === 'diffusers' && unusedKeys.length) {
      throw new ControlNetLoadError(`${file}: ${unusedKeys.length} weights do not belong to the configured ControlNet (config.json does not match the checkpoint?): ${unusedKeys.slice(0, 5).join(', ')}${unusedKeys.length > 5 ? ', …' : ''}`);
    }
    const model = await compile(graph, w.store, opts);
    const inputShapes: Record<string, readonly number[]> = {};
    for (const id of graph.inputs) inputShapes[graph.values[id].name!] = graph.values[id].shape;
    const downCount = controlResidualShapes(config.unet, opts.batch, opts.height, opts.width).down.length;
    return {
      config, model, inputShapes, unusedKeys, source: { file, layout },
      forward: (inputs) => runControlNet(model, inputShapes, opts.batch, downCount, inputs),
      release: () => model.release(),
    };
  } finally {
    ckpt.reader.close();
  }
}

/** A number, or one per batch entry, as a [batch] array. */
function perSample(what: string, v: number | readonly number[] | Float32Array, batch: number): Float32Array {
  if (typeof v === 'number') return new Float32Array(batch).fill(v);
  const a = Float32Array.from(v);
  if (a.length === 1) return new Float32Array(batch).fill(a[0]);
  if (a.length !== batch) throw new ControlNetLoadError(`ControlNet forward: ${a.length} ${what} values for a batch of ${batch}`);
  return a;
}

async function runControlNet(model: CompiledModel, shapes: Record<string, readonly number[]>, batch: number, downCount: number, x: ControlNetForwardInputs): Promise<ControlNetResiduals> {
  const feeds: Record<string, Float32Array | undefined> = {
    sample: x.sample,
    timestep: perSample('timestep', x.timestep, batch),
    encoder_hidden_states: x.encoderHiddenStates,
    controlnet_cond: x.cond,
    conditioning_scale: perSample('conditioning scale', x.scale ?? 1, batch),
  };
  if (x.textEmbeds) feeds.text_embeds = x.textEmbeds;
  if (x.timeIds) feeds.time_ids = x.timeIds;
  for (const name of Object.keys(feeds)) {
    if (feeds[name] && !(name in shapes)) throw new ControlNetLoadError(`ControlNet forward: got ${name}, but this ControlNet has no such input`);
  }
  for (const [name, shape] of Object.entries(shapes)) {
    const n = shape.reduce((p, q) => p * q, 1);
    const f = feeds[name];
    if (!f) throw new ControlNetLoadError(`ControlNet forward: missing input ${name} [${shape.join(',')}]`);
    if (f.length !== n) throw new ControlNetLoadError(`ControlNet forward: ${name} has ${f.length} values, expected [${shape.join(',')}] = ${n}`);
  }
  const out = await model.run(feeds as Record<string, Float32Array>);
  const down = Array.from({ length: downCount }, (_, k) => out[`down_residual_${k}`].data as Float32Array);
  const res: ControlNetResiduals = { down, mid: out.mid_residual.data as Float32Array };
  if (out.controlnet_cond_embedding) res.condEmbedding = out.controlnet_cond_embedding.data as Float32Array;
  return res;
}
