// Test-only: a tiny ColorizeDiffusion single file in the released layout, random weights, every part:
//   model.diffusion_model.*   split UNet (tinyColorizeModel.ts, LDM keys, attn2 LoRA on the up path)
//   control_encoder.*         sketch encoder
//   first_stage_model.*       a 4-level VAE (×8, like SD's, so the sketch encoder's ×8 stem fits), 8 channels
//   cond_stage_model.visual.model.*  an OpenCLIP ViT at 224² / patch 14 (256 local tokens), width 32 → 24
//   thresh_embedder.*, transformer.*  the background path (referenceConditioning.ts), 8 queries, 2 layers
// Parts can be left out to test the loader's errors.
import { numel, type Graph } from '../../graph/graph.ts';
import { writeSafetensors, type TensorToWrite } from '../../weights/safetensors.ts';
import { diffusersToLdmUnetKey, LDM_UNET_PREFIX } from '../../weights/keymaps/ldmUnet.ts';
import { ldmVaeKey, LDM_VAE_PREFIX } from '../../weights/keymaps/ldmVae.ts';
import { toOpenClipVisionTensors } from '../../weights/keymaps/openClip.ts';
import { ldmLayout } from '../unet/load.ts';
import { parseVaeConfig } from '../vae/config.ts';
import { vaeEncodeGraph } from '../vae/encoder.ts';
import { vaeDecodeGraph } from '../vae/decoder.ts';
import { parseClipVisionConfig } from '../clip/config.ts';
import { clipVisionGraph } from '../clip/visionEncoder.ts';
import { tinyColorizeWeights, TINY_COLORIZE_CONFIG } from './tinyColorizeModel.ts';
import { buildReferenceContextGraph } from './referenceConditioning.ts';

export { TINY_COLORIZE_CONFIG };

export type TinyPart = 'unet' | 'lora' | 'sketchEncoder' | 'vae' | 'referenceEncoder' | 'backgroundEncoder';

export interface TinyCheckpointOptions {
  seed?: number;
  /** Parts to leave out. */
  omit?: readonly TinyPart[];
  /** LoRA weight scale (0: all-zero LoRA). */
  loraStd?: number;
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296 - 0.5;
  };
}

/** Random tensors for every parameter of `graphs`, norm scales around 1. */
function randomParams(graphs: Graph[], seed: number, std: number): Record<string, { shape: number[]; data: Float32Array }> {
  const r = rng(seed);
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const g of graphs) {
    for (const [name, id] of [...g.params].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (out[name]) continue;
      const shape = [...g.values[id].shape];
      const isScale = /(norm|layrnorm|\.[01])\.weight$/.test(name) && shape.length === 1;
      out[name] = { shape, data: Float32Array.from({ length: numel(shape) }, () => (isScale ? 1 : 0) + r() * 2 * Math.sqrt(3) * std) };
    }
  }
  return out;
}

export const TINY_VAE = parseVaeConfig({ block_out_channels: [8, 8, 8, 8], layers_per_block: 1, norm_num_groups: 8, latent_channels: 4 });
export const TINY_VISION = parseClipVisionConfig({
  hidden_size: 32, intermediate_size: 64, projection_dim: 24, num_hidden_layers: 2, num_attention_heads: 1,
  image_size: 224, patch_size: 14, hidden_act: 'gelu',
});

/** Writes the file and returns its path. */
export async function writeTinyColorizeCheckpoint(path: string, opts: TinyCheckpointOptions = {}): Promise<string> {
  const omit = new Set(opts.omit ?? []);
  const seed = opts.seed ?? 3;
  const tensors: TensorToWrite[] = [];
  const add = (name: string, t: { shape: readonly number[]; data: Float32Array }) => tensors.push({ name, dtype: 'F32', shape: t.shape, data: t.data });

  const unet = tinyColorizeWeights({ seed, loraStd: opts.loraStd });
  const layout = ldmLayout(unet.config);
  for (const [name, data] of Object.entries(unet.tensors)) {
    const shape = unet.shapes[name];
    if (name.startsWith('control_encoder.')) {
      if (!omit.has('sketchEncoder')) add(name, { shape, data });
    } else if (name.includes('.lora_')) {
      if (!omit.has('lora') && !omit.has('unet')) add(LDM_UNET_PREFIX + diffusersToLdmUnetKey(name, layout)!, { shape, data });
    } else if (!omit.has('unet')) {
      add(LDM_UNET_PREFIX + diffusersToLdmUnetKey(name, layout)!, { shape, data });
    }
  }

  if (!omit.has('vae')) {
    const vae = randomParams([vaeEncodeGraph(TINY_VAE, [1, 3, 16, 16]), vaeDecodeGraph(TINY_VAE, [1, 4, 2, 2])], seed + 1, 0.15);
    for (const [name, t] of Object.entries(vae)) {
      const key = ldmVaeKey(name, TINY_VAE.block_out_channels.length);
      if (!key) throw new Error(`tiny VAE: no LDM key for ${name}`);
      const attn = /mid_block\.attentions\.0\.(to_q|to_k|to_v|to_out\.0)\.weight$/.test(name);
      add(LDM_VAE_PREFIX + key, { shape: attn ? [...t.shape, 1, 1] : t.shape, data: t.data });
    }
  }

  if (!omit.has('referenceEncoder')) {
    const tower = randomParams([clipVisionGraph(TINY_VISION, { batch: 1, withProjection: true })], seed + 2, 0.2);
    for (const t of toOpenClipVisionTensors(tower, 'cond_stage_model.visual.model.')) add(t.name, t);
  }

  if (!omit.has('backgroundEncoder')) {
    const shape = { dim: 24, queries: 8, layers: 2, hidden: 96, thresholdFeatures: 16, heads: 1, inner: 64 };
    const bg = randomParams([buildReferenceContextGraph(shape, 1, 4, 4)], seed + 3, 0.2);
    for (const [name, t] of Object.entries(bg)) add(name, t);
  }
  await writeSafetensors(path, tensors);
  return path;
}
