// Loading a diffusers T2IAdapter: a folder (config.json + diffusion_pytorch_model[.fp16].safetensors, or a
// pipeline folder with adapter/), or a .safetensors file with diffusers keys (`adapter.*`), its config from
// a T2IAdapter config.json beside it or inferred from shapes. Compiled for one image size.
import { createGraph, type Graph } from '../../graph/graph.ts';
import { compile, type CompileOptions, type CompiledModel } from '../../runtime/session.ts';
import { openSafetensors, type SafetensorsReader } from '../../weights/safetensors.ts';
import { safetensorsWeights } from '../../weights/store.ts';
import { componentConfigJson, resolveComponent } from '../modelFolder.ts';
import { adapterFeatureShapes, parseT2IAdapterConfig, type T2IAdapterConfig } from './config.ts';
import { buildT2IAdapter } from './t2iAdapter.ts';
import { readTextLimited } from '../../files/readText.ts';

export class T2IAdapterLoadError extends Error {
  override name = 'T2IAdapterLoadError';
}

export interface T2IAdapterShapes {
  batch: number;
  /** Control image height and width in pixels (multiples of downscale_factor). */
  height: number;
  width: number;
}

export interface LoadT2IAdapterOptions extends T2IAdapterShapes, CompileOptions {
  config?: T2IAdapterConfig | Record<string, unknown>;
}

export interface LoadedT2IAdapter {
  readonly config: T2IAdapterConfig;
  readonly model: CompiledModel;
  /** Shape of each feature (one per UNet down level). */
  readonly featureShapes: readonly (readonly number[])[];
  readonly source: { file: string };
  /** image [B, in_channels, H, W], usually in [0, 1] → features. */
  forward(image: Float32Array): Promise<Float32Array[]>;
  release(): Promise<void>;
}

/** Graph input "image", outputs "feature_0".."feature_n". */
export function buildT2IAdapterGraph(config: T2IAdapterConfig, shapes: T2IAdapterShapes): Graph {
  const g = createGraph('t2i_adapter');
  const image = g.input('image', 'f32', [shapes.batch, config.inChannels, shapes.height, shapes.width]);
  buildT2IAdapter(image, config).forEach((f, i) => g.output(`feature_${i}`, f));
  return g;
}

/** The config from a diffusers state dict's shapes (files without config.json). */
export function inferT2IAdapterConfig(reader: SafetensorsReader): T2IAdapterConfig {
  const shape = (k: string) => (reader.has(k) ? reader.info(k).shape : undefined);
  const count = (f: (i: number) => string) => {
    let n = 0;
    while (shape(f(n))) n++;
    return n;
  };
  const blocks = count((i) => `adapter.body.${i}.resnets.0.block1.weight`);
  const numResBlocks = count((j) => `adapter.body.0.resnets.${j}.block1.weight`);
  if (!blocks || !numResBlocks) throw new T2IAdapterLoadError(`${reader.path}: no adapter.body.*.resnets tensors; not a diffusers T2IAdapter`);
  const outConv = shape('adapter.body.0.out_conv.weight');
  if (outConv) {
    const inC = shape('adapter.body.0.in_conv.weight')![1];
    const channels = Array.from({ length: blocks - 1 }, (_, i) => shape(`adapter.body.${i}.out_conv.weight`)![0]);
    return parseT2IAdapterConfig({ adapter_type: 'light_adapter', in_channels: inC / 64, channels, num_res_blocks: numResBlocks, downscale_factor: 8 });
  }
  const convIn = shape('adapter.conv_in.weight');
  if (!convIn) throw new T2IAdapterLoadError(`${reader.path}: adapter.conv_in.weight is missing`);
  const channels = Array.from({ length: blocks }, (_, i) => shape(`adapter.body.${i}.resnets.0.block1.weight`)![0]);
  // conv_in reads in_channels·r² values: 3·16² (XL) or 3·8² / 1·8² (SD1.x colour / sketch adapters).
  const xl = convIn[1] % 256 === 0 && [1, 3].includes(convIn[1] / 256);
  const r = xl ? 16 : 8;
  return parseT2IAdapterConfig({ adapter_type: xl ? 'full_adapter_xl' : 'full_adapter', in_channels: convIn[1] / (r * r), channels, num_res_blocks: numResBlocks, downscale_factor: r });
}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readTextLimited(path));
  } catch (e) {
    throw new T2IAdapterLoadError(`cannot read T2IAdapter config ${path}: ${(e as Error).message}`);
  }
}

export async function loadT2IAdapter(path: string, opts: LoadT2IAdapterOptions): Promise<LoadedT2IAdapter> {
  for (const k of ['batch', 'height', 'width'] as const) {
    if (!Number.isInteger(opts[k]) || opts[k] <= 0) throw new T2IAdapterLoadError(`loadT2IAdapter: ${k} must be a positive integer, got ${opts[k]}`);
  }
  const files = resolveComponent(path, { subfolder: 'adapter', weightNames: ['diffusion_pytorch_model.safetensors', 'weights.safetensors'], what: 'T2IAdapter' });
  const json = componentConfigJson(files, 'T2IAdapter', readJson);
  const reader = openSafetensors(files.weightsPath);
  try {
    if (!reader.has('adapter.body.0.resnets.0.block1.weight')) {
      const original = reader.has('body.0.block1.weight') || reader.has('body.0.body.0.block1.weight');
      throw new T2IAdapterLoadError(original
        ? `${files.weightsPath} uses the original TencentARC key names (body.N.*); inkflow loads diffusers T2IAdapter files (adapter.body.*) — convert with diffusers' convert_original_t2i_adapter.py`
        : `${files.weightsPath} holds no T2IAdapter weights (looked for adapter.body.0.resnets.0.block1.weight)`);
    }
    let config: T2IAdapterConfig;
    if (opts.config) config = 'numResBlocks' in opts.config ? (opts.config as T2IAdapterConfig) : parseT2IAdapterConfig(opts.config);
    else if (json) config = parseT2IAdapterConfig(json);
    else config = inferT2IAdapterConfig(reader);
    if (opts.height % config.downscaleFactor !== 0 || opts.width % config.downscaleFactor !== 0) {
      throw new T2IAdapterLoadError(`loadT2IAdapter: image size ${opts.height}×${opts.width} must be a multiple of the adapter's downscale_factor ${config.downscaleFactor}`);
    }
    const graph = buildT2IAdapterGraph(config, opts);
    const used = new Set(graph.params.keys());
    const unused = [...reader.tensors.keys()].filter((k) => !used.has(k));
    if (unused.length) throw new T2IAdapterLoadError(`${files.weightsPath}: ${unused.length} weights do not belong to the configured ${config.type} (config does not match the file?): ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ', …' : ''}`);
    const model = await compile(graph, safetensorsWeights(reader), opts);
    const featureShapes = adapterFeatureShapes(config, opts.batch, opts.height, opts.width);
    const imageShape = [opts.batch, config.inChannels, opts.height, opts.width];
    const n = imageShape.reduce((a, b) => a * b, 1);
    return {
      config, model, featureShapes, source: { file: files.weightsPath },
      async forward(image) {
        if (image.length !== n) throw new T2IAdapterLoadError(`T2IAdapter forward: image has ${image.length} values, expected [${imageShape.join(',')}] = ${n}`);
        const out = await model.run({ image });
        return featureShapes.map((_, i) => out[`feature_${i}`].data as Float32Array);
      },
      release: () => model.release(),
    };
  } finally {
    reader.close();
  }
}
