// Loads an AutoencoderKL from a diffusers folder (`vae/` or a pipeline folder containing it) or from a
// single safetensors file (LDM `first_stage_model.*`, a standalone LDM VAE, or diffusers names), and gives
// encode/decode functions compiled on first use for each input shape (shapes are static in the IR).
import type { Graph } from '../../graph/graph.ts';
import type { WeightStore } from '../../graph/weights.ts';
import { compiledModels } from '../../runtime/compiledModels.ts';
import type { CompileOptions } from '../../runtime/session.ts';
import { openSafetensors, type SafetensorsReader } from '../../weights/safetensors.ts';
import { safetensorsWeights } from '../../weights/store.ts';
import { detectVaeLayout, ldmVaeKey, ldmVaeWeights, squeezeAttentionConvs } from '../../weights/keymaps/ldmVae.ts';
import { type VaeConfig, VaeConfigError, inferVaeConfig, parseVaeConfig, vaeScaleFactor } from './config.ts';
import { vaeEncodeGraph } from './encoder.ts';
import { vaeDecodeGraph } from './decoder.ts';
import { decodeTiled, type TileOptions } from './tiledDecode.ts';
import { resolveComponent } from '../modelFolder.ts';
import { readTextLimited } from '../../files/readText.ts';

export interface F32Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface VaeEncoding {
  /** quant_conv output: mean ‖ logvar along channels. */
  readonly moments: F32Tensor;
  readonly mean: F32Tensor;
  /** Clamped to [-30, 20]. */
  readonly logvar: F32Tensor;
}

export interface DecodeOptions extends TileOptions {
  /** 'auto' (default) tiles when the latent has more than `autoTileArea` cells. */
  tiled?: boolean | 'auto';
  /** Latent area above which 'auto' tiles (default 96·96, i.e. 768² images for SD). */
  autoTileArea?: number;
}

export interface VaeModel {
  readonly config: VaeConfig;
  /** Image pixels per latent pixel. */
  readonly scaleFactor: number;
  /** image [B, C, H, W] in [-1, 1] → latent distribution (unscaled: multiply by scaling_factor yourself). */
  encode(image: F32Tensor): Promise<VaeEncoding>;
  /** latents [B, latent, h, w] (already divided by scaling_factor) → image [B, C, h·f, w·f]. */
  decode(latents: F32Tensor, opts?: DecodeOptions): Promise<F32Tensor>;
  /** Frees every compiled session. */
  release(): Promise<void>;
}

export interface LoadVaeOptions extends Pick<CompileOptions, 'provider' | 'threads' | 'cacheDir' | 'fuse' | 'precision'> {
  /** Overrides the config's (or the inferred) scaling factor, e.g. 0.13025 for SDXL single files. */
  scalingFactor?: number;
  /** A config.json to use for a single-file checkpoint instead of inferring one from tensor shapes. */
  configPath?: string;
}

export interface VaeWeights {
  readonly config: VaeConfig;
  readonly store: WeightStore;
  readonly reader: SafetensorsReader;
}

/**
 * diffusers < 0.14 saved the mid-block attention as query/key/value/proj_attn (many published SD VAE folders
 * still do; diffusers renames them on load). Serve those names when the new ones are absent.
 */
function legacyAttentionKey(reader: SafetensorsReader, prefix: string) {
  const legacy: Record<string, string> = { to_q: 'query', to_k: 'key', to_v: 'value', 'to_out.0': 'proj_attn' };
  return (name: string): string => {
    if (reader.has(prefix + name)) return name;
    const m = /^(.*mid_block\.attentions\.0\.)(to_q|to_k|to_v|to_out\.0)\.(weight|bias)$/.exec(name);
    return m ? `${m[1]}${legacy[m[2]]}.${m[3]}` : name;
  };
}

function readConfig(path: string): VaeConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readTextLimited(path));
  } catch (err) {
    throw new VaeConfigError(`${path}: cannot read config (${(err as Error).message})`);
  }
  return parseVaeConfig(raw, path);
}

/** Opens the weights and config without compiling anything. */
export function openVaeWeights(path: string, opts: Pick<LoadVaeOptions, 'scalingFactor' | 'configPath'> = {}): VaeWeights {
  const files = resolveComponent(path, { subfolder: 'vae', weightNames: ['diffusion_pytorch_model.safetensors', 'model.safetensors'], what: 'VAE' });
  const reader = openSafetensors(files.weightsPath);
  try {
    const layout = detectVaeLayout(reader);
    if (!layout) throw new VaeConfigError(`${files.weightsPath}: no VAE weights found (expected first_stage_model.encoder.* LDM keys or encoder.down_blocks.* diffusers keys)`);
    let store: WeightStore;
    let shapeOf: (name: string) => readonly number[] | undefined;
    if (layout.kind === 'ldm') {
      store = ldmVaeWeights(reader, layout);
      shapeOf = (name) => {
        const key = ldmVaeKey(name, layout.levels);
        return key && reader.has(layout.prefix + key) ? reader.info(layout.prefix + key).shape : undefined;
      };
    } else {
      const keyMap = legacyAttentionKey(reader, layout.prefix);
      store = squeezeAttentionConvs(safetensorsWeights(reader, { prefix: layout.prefix, keyMap }));
      shapeOf = (name) => (reader.has(layout.prefix + keyMap(name)) ? reader.info(layout.prefix + keyMap(name)).shape : undefined);
    }
    const configPath = opts.configPath ?? files.configPath;
    let config = configPath ? readConfig(configPath) : inferVaeConfig(shapeOf, files.weightsPath);
    if (opts.scalingFactor !== undefined) config = { ...config, scaling_factor: opts.scalingFactor };
    return { config, store, reader };
  } catch (err) {
    reader.close();
    throw err;
  }
}

/** Loads a VAE; sessions are compiled lazily, one per distinct input shape. */
export async function loadVae(path: string, opts: LoadVaeOptions = {}): Promise<VaeModel> {
  const { config, store } = openVaeWeights(path, opts);
  return vaeModel(config, store, opts);
}

/** A VaeModel over an already opened config + weight store (used by pipeline loaders and tests). */
export function vaeModel(config: VaeConfig, store: WeightStore, opts: Pick<CompileOptions, 'provider' | 'threads' | 'cacheDir' | 'fuse' | 'precision'> = {}): VaeModel {
  const sessions = compiledModels(store, opts);
  const session = (kind: string, shape: readonly number[], build: () => Graph) => sessions.get(`${kind}:${shape.join('x')}`, build);
  const f = vaeScaleFactor(config);
  const checkData = (t: F32Tensor, what: string) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (!(t.data instanceof Float32Array) || t.data.length !== n) throw new VaeConfigError(`${what}: data has ${t.data?.length} values, shape [${t.shape.join(',')}] needs ${n}`);
  };
  const decodeWhole = async (data: Float32Array, shape: readonly number[]): Promise<F32Tensor> => {
    const model = await session('decode', shape, () => vaeDecodeGraph(config, shape));
    const out = (await model.run({ latents: { dtype: 'f32', shape, data } })).image;
    return { shape: out.shape, data: out.data as Float32Array };
  };
  return {
    config,
    scaleFactor: f,
    async encode(image) {
      checkData(image, 'VAE encode');
      const model = await session('encode', image.shape, () => vaeEncodeGraph(config, image.shape));
      const out = await model.run({ image: { dtype: 'f32', shape: image.shape, data: image.data } });
      const t = (name: string): F32Tensor => ({ shape: out[name].shape, data: out[name].data as Float32Array });
      return { moments: t('moments'), mean: t('latent_mean'), logvar: t('latent_logvar') };
    },
    async decode(latents, dopts = {}) {
      checkData(latents, 'VAE decode');
      const shape = latents.shape;
      if (shape.length !== 4 || shape[1] !== config.latent_channels) throw new VaeConfigError(`VAE decode: latents must be [B, ${config.latent_channels}, h, w], got [${shape.join(',')}]`);
      const mode = dopts.tiled ?? 'auto';
      const tile = dopts.tile ?? 64;
      const tiled = mode === 'auto' ? shape[2] * shape[3] > (dopts.autoTileArea ?? 96 * 96) && (shape[2] > tile || shape[3] > tile) : mode;
      if (!tiled) return decodeWhole(latents.data, shape);
      const spec = { shape: shape as [number, number, number, number], data: latents.data, scale: f, outChannels: config.out_channels };
      return decodeTiled(spec, async (data, tshape) => (await decodeWhole(data, tshape)).data, dopts);
    },
    release: () => sessions.release(),
  };
}
