// A T2I-Adapter opened once and compiled lazily per control-image size (like the ControlNet runner), and
// the plan that fits it to a UNet: which image size makes its features land on the UNet's injection
// points, and how many of its features the UNet takes (diffusers v0.21: one per down level while features
// remain, plus one after the mid block when its shape matches — see models/unet/unet.ts).
import type { CompileOptions } from '../../runtime/session.ts';
import { openSafetensors } from '../../weights/safetensors.ts';
import { componentConfigJson, resolveComponent } from '../modelFolder.ts';
import { adapterBlocks, adapterFeatureShapes, parseT2IAdapterConfig, type T2IAdapterConfig } from '../t2iAdapter/config.ts';
import { inferT2IAdapterConfig, loadT2IAdapter, T2IAdapterLoadError, type LoadedT2IAdapter, type T2IAdapterShapes } from '../t2iAdapter/load.ts';
import type { UNetConfig } from '../unet/config.ts';
import { adapterResidualShapes } from '../unet/unet.ts';
import { CheckpointError } from './family.ts';
import { compiledWeightBytes } from '../../weights/compiledWeightBytes.ts';
import { readTextLimited } from '../../files/readText.ts';

export interface T2IAdapterRunner {
  readonly path: string;
  readonly config: T2IAdapterConfig;
  /** image [batch, in_channels, height, width] in [0, 1] → one feature per adapter block. */
  forward(shape: T2IAdapterShapes, image: Float32Array): Promise<Float32Array[]>;
  release(): Promise<void>;
}

export interface AdapterPlan {
  /** Control image size (pixels) the adapter must see. */
  height: number;
  width: number;
  /** Features the UNet takes (the first `count`; the rest are unused, as in diffusers). */
  count: number;
}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readTextLimited(path));
  } catch (e) {
    throw new T2IAdapterLoadError(`cannot read T2IAdapter config ${path}: ${(e as Error).message}`);
  }
}

/** The adapter's config, as loadT2IAdapter will find it (folder / pipeline adapter/ / file + config beside it / inferred). */
export function readT2IAdapterConfig(path: string): T2IAdapterConfig {
  const files = resolveComponent(path, { subfolder: 'adapter', weightNames: ['diffusion_pytorch_model.safetensors', 'weights.safetensors'], what: 'T2IAdapter' });
  const json = componentConfigJson(files, 'T2IAdapter', readJson);
  if (json) return parseT2IAdapterConfig(json);
  const reader = openSafetensors(files.weightsPath);
  try {
    return inferT2IAdapterConfig(reader);
  } finally {
    reader.close();
  }
}

/** Bytes the adapter's compiled weights hold (fp16 files stay fp16), from its file header: for memory estimates. */
export function t2iAdapterWeightBytes(path: string): number {
  const files = resolveComponent(path, { subfolder: 'adapter', weightNames: ['diffusion_pytorch_model.safetensors', 'weights.safetensors'], what: 'T2IAdapter' });
  const reader = openSafetensors(files.weightsPath);
  try {
    return compiledWeightBytes(reader);
  } finally {
    reader.close();
  }
}

/** Opens a T2I-Adapter (diffusers folder or file); compiles on first forward for each image size. */
export function openT2IAdapter(path: string, opts: CompileOptions = {}): T2IAdapterRunner {
  const config = readT2IAdapterConfig(path);
  const loaded = new Map<string, Promise<LoadedT2IAdapter>>();
  let closed = false;
  return {
    path,
    config,
    async forward(shape, image) {
      if (closed) throw new CheckpointError(`T2I-Adapter ${path} was released`);
      const key = JSON.stringify([shape.batch, shape.height, shape.width]);
      let m = loaded.get(key);
      if (!m) {
        m = loadT2IAdapter(path, { ...opts, ...shape, config });
        loaded.set(key, m);
        m.catch(() => loaded.delete(key));
      }
      return (await m).forward(image);
    },
    async release() {
      closed = true;
      const all = [...loaded.values()];
      loaded.clear();
      for (const m of all) await (await m.catch(() => undefined))?.release();
    },
  };
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Fits an adapter to a UNet running on an h×w latent. The image size is the one whose first feature has
 * the size of the first injection point: h·8 × w·8 for SD adapters on SD UNets (the pipeline's own image
 * size, as diffusers resizes to it), also for SDXL (level 0 injects after its downsampler, the XL adapter
 * downscales 16×). Every feature the UNet takes must match its injection point in channels and size.
 */
export function planT2IAdapter(unet: UNetConfig, adapter: T2IAdapterConfig, latentHeight: number, latentWidth: number): AdapterPlan {
  const at = adapterResidualShapes(unet, 1, latentHeight, latentWidth);
  const r = adapter.downscaleFactor * (adapterBlocks(adapter)[0].down ? 2 : 1);
  const [, , h0, w0] = at.down[0];
  const height = h0 * r;
  const width = w0 * r;
  const features = adapterFeatureShapes(adapter, 1, height, width);
  const levels = unet.down.length;
  let count = Math.min(features.length, levels);
  for (let k = 0; k < count; k++) {
    if (!same(features[k], at.down[k])) {
      throw new CheckpointError(`T2I-Adapter (${adapter.type}, channels ${adapter.channels.join('/')}) does not fit this UNet: its feature ${k} is [${features[k].slice(1).join(',')}] but down level ${k} (${unet.down[k].type}) takes [${at.down[k].slice(1).join(',')}]`);
    }
  }
  if (features.length > levels && same(features[levels], at.mid)) count++;
  return { height, width, count };
}
