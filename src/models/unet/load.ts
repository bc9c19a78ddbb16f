// Loading a UNet the way users have it: a diffusers folder (config.json + diffusion_pytorch_model
// [.fp16].safetensors), a diffusers-keyed .safetensors file with config.json beside it, or an LDM
// single-file checkpoint (keys under `model.diffusion_model.`, config given or inferred from shapes).
// The result is a compiled ONNX session with a typed `forward`.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createGraph, type Graph } from '../../graph/graph.ts';
import type { WeightStore } from '../../graph/weights.ts';
import { compile, type CompileOptions, type CompiledModel } from '../../runtime/session.ts';
import { openSafetensors, type SafetensorsReader } from '../../weights/safetensors.ts';
import { safetensorsWeights } from '../../weights/store.ts';
import { diffusersToLdmUnetKey, LDM_UNET_PREFIX, type LdmUnetLayout } from '../../weights/keymaps/ldmUnet.ts';
import { parseUNetConfig, UNetConfigError, type UNetConfig } from './config.ts';
import { adapterFeatureInputShapes, buildUNet, controlResidualShapes, deepFeatureShape } from './unet.ts';
import { conditioningScale } from './conditioningEmbedding.ts';
import { inferLdmUNetConfig } from './ldmConfig.ts';
import { readTextLimited } from '../../files/readText.ts';

export class UNetLoadError extends Error {
  override name = 'UNetLoadError';
}

/** Weight files looked for in a model folder, in order. */
export const UNET_WEIGHT_FILES = ['diffusion_pytorch_model.safetensors', 'diffusion_pytorch_model.fp16.safetensors', 'weights.safetensors'];

export interface UNetShapes {
  batch: number;
  /** Latent height and width (image size / 8 for SD). */
  height: number;
  width: number;
  /** encoder_hidden_states length (77 for CLIP text, 257 for SDRO's CLIP-vision tokens). */
  seqLen: number;
}

export interface LoadUNetOptions extends UNetShapes, CompileOptions {
  /** A config (parsed, or raw config.json contents) overriding the one found beside the weights. */
  config?: UNetConfig | Record<string, unknown>;
  /** Declare ControlNet residual inputs (down + mid); forward feeds zeros when they are not given. */
  controlNet?: boolean;
  /** Declare this many T2I-Adapter feature inputs (see buildUNetGraph); forward feeds zeros for absent ones. */
  adapterFeatures?: number;
  /** Step caching graph (see UNetGraphOptions.deepCache); use forwardCached. */
  deepCache?: 'produce' | 'consume';
  /** With deepCache: where the cached state sits (UNetGraphOptions.cachedUpLayers). */
  cachedUpLayers?: number;
}

export interface UNetForwardInputs {
  sample: Float32Array;
  /** One timestep for the whole batch, or one per sample. */
  timestep: number | readonly number[] | Float32Array;
  encoderHiddenStates: Float32Array;
  blueprint?: Float32Array;
  textEmbeds?: Float32Array;
  timeIds?: Float32Array;
  downResiduals?: readonly Float32Array[];
  midResidual?: Float32Array;
  /** T2I-Adapter features, already scaled (one per declared input, in order). */
  adapterFeatures?: readonly Float32Array[];
}

export interface LoadedUNet {
  readonly config: UNetConfig;
  readonly model: CompiledModel;
  /** Graph input name → shape. */
  readonly inputShapes: Readonly<Record<string, readonly number[]>>;
  /** File keys (UNet part) the graph did not use: non-empty usually means a config that does not fit the weights. */
  readonly unusedKeys: readonly string[];
  /** Where the weights came from and in which key layout. */
  readonly source: { file: string; layout: 'diffusers' | 'ldm' };
  forward(inputs: UNetForwardInputs): Promise<Float32Array>;
  /**
   * Step caching: a 'produce' UNet returns the deep features with its output; a 'consume' UNet takes
   * them (from the last full step) and runs only its shallow blocks.
   */
  forwardCached(inputs: UNetForwardInputs, deepFeatures?: Float32Array): Promise<{ sample: Float32Array; deepFeatures?: Float32Array }>;
  release(): Promise<void>;
}

interface ResolvedSource {
  file: string;
  configJson?: unknown;
}

function readJsonFile(path: string): unknown {
  try {
    return JSON.parse(readTextLimited(path));
  } catch (e) {
    throw new UNetLoadError(`cannot read UNet config ${path}: ${(e as Error).message}`);
  }
}

function resolveSource(path: string): ResolvedSource {
  if (!existsSync(path)) throw new UNetLoadError(`UNet path not found: ${path}`);
  if (statSync(path).isDirectory()) {
    const cfg = join(path, 'config.json');
    if (!existsSync(cfg)) throw new UNetLoadError(`${path} has no config.json (a diffusers UNet folder needs config.json and ${UNET_WEIGHT_FILES[0]})`);
    const file = UNET_WEIGHT_FILES.map((f) => join(path, f)).find((f) => existsSync(f));
    if (!file) {
      const pickles = readdirSync(path).filter((f) => /\.(bin|ckpt|pt|pth)$/.test(f));
      const hint = pickles.length ? ` Found ${pickles.join(', ')}: pickle files are not loaded (they can run code); convert them to .safetensors first.` : '';
      throw new UNetLoadError(`no UNet weights in ${path}: looked for ${UNET_WEIGHT_FILES.join(', ')}.${hint}`);
    }
    return { file, configJson: readJsonFile(cfg) };
  }
  const beside = join(dirname(path), 'config.json');
  return { file: path, configJson: existsSync(beside) && basename(path) !== 'config.json' ? readJsonFile(beside) : undefined };
}

export function ldmLayout(config: UNetConfig): LdmUnetLayout {
  return { layersPerBlock: config.down.map((d) => d.layers), upBlockHasAttention: config.up.map((u) => u.attention) };
}

export interface UNetGraphOptions {
  /** Inputs down_residual_0..k and mid_residual (ControlNet). */
  controlNet?: boolean;
  /**
   * Inputs adapter_feature_0..n−1 (T2I-Adapter): one per down level, plus optionally one added after the mid
   * block; shapes from adapterFeatureInputShapes. 0 or absent declares none and leaves the graph (and its
   * hash) exactly as without adapters.
   */
  adapterFeatures?: number;
  /**
   * Step caching (see buildUNet): 'produce' adds the output "deep_features"; 'consume' builds the shallow
   * UNet with the input "deep_features" instead of the deep blocks. Absent: the plain graph (same hash).
   */
  deepCache?: 'produce' | 'consume';
  /** With deepCache: layers of the last up block inside the cached state (buildUNet's cachedUpLayers; default 0). */
  cachedUpLayers?: number;
}

/** Declares the UNet's graph inputs for the given sizes and builds it; output "out_sample". */
export function buildUNetGraph(config: UNetConfig, shapes: UNetShapes, opts: UNetGraphOptions = {}): Graph {
  const { batch: b, height: h, width: w, seqLen } = shapes;
  const g = createGraph('unet');
  const sample = g.input('sample', 'f32', [b, config.inChannels, h, w]);
  const timestep = g.input('timestep', 'f32', [b]);
  const encoderHiddenStates = g.input('encoder_hidden_states', 'f32', [b, seqLen, config.crossAttentionDim]);
  const c = config.conditioning;
  const s = c ? conditioningScale(c.embeddingOutChannels) : 1;
  // A shallow step-caching graph takes the blueprint embedding inside its cached state instead.
  const blueprint = c && opts.deepCache !== 'consume' ? g.input('blueprint', 'f32', [b, c.channels, h * s, w * s]) : undefined;
  const a = config.addition;
  const textEmbeds = a ? g.input('text_embeds', 'f32', [b, a.textEmbedDim]) : undefined;
  const timeIds = a ? g.input('time_ids', 'f32', [b, a.timeIds]) : undefined;
  let downResiduals;
  let midResidual;
  if (opts.controlNet) {
    const rs = controlResidualShapes(config, b, h, w);
    downResiduals = rs.down.map((shape, k) => g.input(`down_residual_${k}`, 'f32', shape));
    midResidual = g.input('mid_residual', 'f32', rs.mid);
  }
  const adapterFeatures = opts.adapterFeatures
    ? adapterFeatureInputShapes(config, b, h, w, opts.adapterFeatures).map((shape, k) => g.input(`adapter_feature_${k}`, 'f32', shape))
    : undefined;
  const deepCache = opts.deepCache === 'consume' ? { features: g.input('deep_features', 'f32', deepFeatureShape(config, b, h, w, opts.cachedUpLayers)) } : opts.deepCache;
  const out = buildUNet(g, config, { sample, timestep, encoderHiddenStates, blueprint, textEmbeds, timeIds, downResiduals, midResidual, adapterFeatures, deepCache, cachedUpLayers: opts.cachedUpLayers });
  g.output('out_sample', out.sample); // ONNX names must be unique: the input is "sample"
  if (out.deepFeatures) g.output('deep_features', out.deepFeatures);
  return g;
}

function detectLayout(r: SafetensorsReader): { layout: 'diffusers' | 'ldm'; prefix: string } {
  if (r.has('conv_in.weight')) return { layout: 'diffusers', prefix: '' };
  if (r.has(`${LDM_UNET_PREFIX}input_blocks.0.0.weight`)) return { layout: 'ldm', prefix: LDM_UNET_PREFIX };
  if (r.has('input_blocks.0.0.weight')) return { layout: 'ldm', prefix: '' };
  if (r.has('unet.conv_in.weight')) return { layout: 'diffusers', prefix: 'unet.' };
  throw new UNetLoadError(`${r.path} holds no UNet weights: looked for conv_in.weight (diffusers) and ${LDM_UNET_PREFIX}input_blocks.0.0.weight (LDM single file)`);
}

/** A WeightStore serving our (diffusers) parameter names from the file, whatever its key layout. */
export function unetWeights(reader: SafetensorsReader, config: UNetConfig): { store: WeightStore; layout: 'diffusers' | 'ldm'; prefix: string; fileKey: (name: string) => string } {
  const { layout, prefix } = detectLayout(reader);
  if (layout === 'diffusers') return { store: safetensorsWeights(reader, { prefix }), layout, prefix, fileKey: (n) => prefix + n };
  const lay = ldmLayout(config);
  const keyMap = (name: string) => diffusersToLdmUnetKey(name, lay);
  const store = safetensorsWeights(reader, { prefix, keyMap });
  return { store, layout, prefix, fileKey: (n) => prefix + (keyMap(n) ?? n) };
}

export interface UNetCheckpoint {
  config: UNetConfig;
  /** The open weights file; close it when done. */
  reader: SafetensorsReader;
  file: string;
}

/** Parses the config.json beside `file`, naming that file when it is invalid. */
function parseConfigOf(file: string, json: unknown): UNetConfig {
  try {
    return parseUNetConfig(json);
  } catch (e) {
    if (e instanceof UNetConfigError) throw new UNetConfigError(`${join(dirname(file), 'config.json')}: ${e.message}`);
    throw e;
  }
}

/**
 * Finds the weights file and the config for `path` (folder or file) and opens the file. The config is,
 * in order: `configOverride`, config.json (in the folder or beside the file), inferred from LDM shapes.
 */
export function openUNetCheckpoint(path: string, configOverride?: LoadUNetOptions['config']): UNetCheckpoint {
  const src = resolveSource(path);
  const reader = openSafetensors(src.file);
  try {
    const { layout } = detectLayout(reader);
    let config: UNetConfig;
    if (configOverride) config = 'down' in configOverride && 'mid' in configOverride ? (configOverride as UNetConfig) : parseUNetConfig(configOverride);
    else if (src.configJson !== undefined) config = parseConfigOf(src.file, src.configJson);
    else if (layout === 'ldm') config = inferLdmUNetConfig(reader);
    else throw new UNetLoadError(`${src.file} has diffusers keys but no config.json beside it; pass options.config`);
    return { config, reader, file: src.file };
  } catch (e) {
    reader.close();
    throw e;
  }
}

/** Loads and compiles a UNet from a diffusers folder, a diffusers .safetensors file or an LDM single file. */
export async function loadUNet(path: string, opts: LoadUNetOptions): Promise<LoadedUNet> {
  for (const k of ['batch', 'height', 'width', 'seqLen'] as const) {
    if (!Number.isInteger(opts[k]) || opts[k] <= 0) throw new UNetLoadError(`loadUNet: ${k} must be a positive integer, got ${opts[k]}`);
  }
  const { config, reader, file } = openUNetCheckpoint(path, opts.config);
  try {
    let graph: Graph;
    try {
      graph = buildUNetGraph(config, opts, { controlNet: opts.controlNet, adapterFeatures: opts.adapterFeatures, deepCache: opts.deepCache, cachedUpLayers: opts.cachedUpLayers });
    } catch (e) {
      throw new UNetLoadError(`loadUNet: ${(e as Error).message}`);
    }
    const w = unetWeights(reader, config);
    const used = new Set([...graph.params.keys()].map(w.fileKey));
    const unusedKeys = [...reader.tensors.keys()].filter((k) => k.startsWith(w.prefix) && !used.has(k));
    // The shallow step-caching graph uses only part of the weights by design.
    if (w.layout === 'diffusers' && unusedKeys.length && opts.deepCache !== 'consume') {
      // Ignoring them would silently drop parts of the model (e.g. SDRO's blueprint embedding under a plain
      // UNet2DConditionModel config), so refuse, naming them.
      throw new UNetLoadError(`${file}: ${unusedKeys.length} weights do not belong to the configured ${config.className} (config.json does not match the checkpoint?): ${unusedKeys.slice(0, 5).join(', ')}${unusedKeys.length > 5 ? ', …' : ''}`);
    }
    let model: CompiledModel;
    try {
      model = await compile(graph, w.store, opts);
    } catch (e) {
      // Name the file and, for LDM files, the key actually looked up, next to our parameter name.
      const m = /weight "([^"]+)"/.exec((e as Error).message);
      if (!m) throw e;
      const where = w.layout === 'ldm' ? ` (looked up as "${w.fileKey(m[1])}")` : '';
      throw new UNetLoadError(`${file}: ${(e as Error).message}${where}`);
    }
    const inputShapes: Record<string, readonly number[]> = {};
    for (const id of graph.inputs) inputShapes[graph.values[id].name!] = graph.values[id].shape;
    return {
      config, model, inputShapes, unusedKeys, source: { file, layout: w.layout },
      forward: async (inputs) => (await runUNet(model, inputShapes, opts.batch, inputs)).sample,
      forwardCached: (inputs, deepFeatures) => runUNet(model, inputShapes, opts.batch, inputs, deepFeatures),
      release: () => model.release(),
    };
  } finally {
    reader.close();
  }
}

function timesteps(t: UNetForwardInputs['timestep'], batch: number): Float32Array {
  if (typeof t === 'number') return new Float32Array(batch).fill(t);
  const a = Float32Array.from(t);
  if (a.length === 1) return new Float32Array(batch).fill(a[0]);
  if (a.length !== batch) throw new UNetLoadError(`UNet forward: ${a.length} timesteps for a batch of ${batch}`);
  return a;
}

async function runUNet(model: CompiledModel, shapes: Record<string, readonly number[]>, batch: number, x: UNetForwardInputs, deepFeatures?: Float32Array): Promise<{ sample: Float32Array; deepFeatures?: Float32Array }> {
  const feeds: Record<string, Float32Array> = {
    sample: x.sample,
    timestep: timesteps(x.timestep, batch),
    encoder_hidden_states: x.encoderHiddenStates,
  };
  const optional: [string, Float32Array | undefined][] = [['blueprint', x.blueprint], ['text_embeds', x.textEmbeds], ['time_ids', x.timeIds], ['mid_residual', x.midResidual]];
  x.downResiduals?.forEach((r, k) => optional.push([`down_residual_${k}`, r]));
  x.adapterFeatures?.forEach((f, k) => optional.push([`adapter_feature_${k}`, f]));
  optional.push(['deep_features', deepFeatures]);
  for (const [name, v] of optional) {
    if (!v) continue;
    if (!(name in shapes)) {
      const hint = name.includes('residual') ? ' (load it with controlNet: true)' : name.startsWith('adapter_feature_') ? ` (load it with adapterFeatures: ${x.adapterFeatures!.length})` : '';
      throw new UNetLoadError(`UNet forward: got ${name}, but this UNet has no such input${hint}`);
    }
    feeds[name] = v;
  }
  for (const [name, shape] of Object.entries(shapes)) {
    const n = shape.reduce((p, q) => p * q, 1);
    // Absent ControlNet residuals / adapter features mean "none": zeros leave the UNet unchanged.
    if (!feeds[name] && /residual|adapter_feature/.test(name)) feeds[name] = new Float32Array(n);
    if (!feeds[name]) throw new UNetLoadError(`UNet forward: missing input ${name} [${shape.join(',')}]`);
    if (feeds[name].length !== n) throw new UNetLoadError(`UNet forward: ${name} has ${feeds[name].length} values, expected [${shape.join(',')}] = ${n}`);
  }
  const out = await model.run(feeds);
  return { sample: out.out_sample.data as Float32Array, deepFeatures: out.deep_features?.data as Float32Array | undefined };
}
