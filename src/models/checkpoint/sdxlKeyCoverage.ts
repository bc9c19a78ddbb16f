// Which tensors of an SDXL single file our graphs read, and which they do not: every parameter the UNet,
// both text towers and the VAE declare is mapped to its file key (LDM UNet names, transformers names under
// conditioner.embedders.0.transformer., OpenCLIP names with the fused in_proj, first_stage_model.) and its
// stored shape checked without reading any data. File keys nothing maps to are named, so a fine-tune with
// extra or renamed tensors says exactly what is ignored.
import type { Graph } from '../../graph/graph.ts';
import { openSafetensors, type SafetensorsReader } from '../../weights/safetensors.ts';
import { openClipTextKey } from '../../weights/keymaps/ldmClip.ts';
import { LDM_VAE_PREFIX, ldmVaeKey } from '../../weights/keymaps/ldmVae.ts';
import { buildUNetGraph, unetWeights } from '../unet/load.ts';
import { downsampleFactor } from '../unet/config.ts';
import { clipTextGraph } from '../clip/textEncoder.ts';
import { vaeDecodeGraph } from '../vae/decoder.ts';
import { vaeEncodeGraph } from '../vae/encoder.ts';
import { BASE_G_PREFIX, BASE_L_PREFIX, REFINER_G_PREFIX, type SdxlCheckpoint } from './sdxlCheckpoint.ts';

export interface SdxlKeyCoverage {
  /** Graph parameters per component and how many were found with the right shape. */
  components: Record<'unet' | 'textL' | 'textG' | 'vae', { params: number; found: number }>;
  /** "<param> → <file key>: why" for parameters without a fitting tensor. */
  missing: string[];
  /** Distinct file keys some parameter reads (q, k and v share one fused bigG in_proj key). */
  usedKeys: number;
  /** File keys no parameter maps to (e.g. position_ids and logit_scale buffers, EMA copies, extra modules). */
  unused: string[];
}

type Expect = { key: string; shape: readonly number[] };

function paramsOf(g: Graph): [string, readonly number[]][] {
  return [...g.params].map(([name, id]) => [name, g.values[id].shape]);
}

function check(reader: SafetensorsReader, params: [string, readonly number[]][], map: (name: string, shape: readonly number[]) => Expect | undefined, used: Set<string>, missing: string[]): number {
  let found = 0;
  for (const [name, shape] of params) {
    const e = map(name, shape);
    if (!e) {
      missing.push(`${name}: no file key`);
      continue;
    }
    used.add(e.key);
    if (!reader.has(e.key)) missing.push(`${name} → ${e.key}: not in the file`);
    else if (reader.info(e.key).shape.join(',') !== e.shape.join(',')) missing.push(`${name} → ${e.key}: file [${reader.info(e.key).shape}] vs expected [${e.shape}]`);
    else found++;
  }
  return found;
}

/** Key coverage of an SDXL single file opened as `ckpt` (same path). Reads headers only. */
export function sdxlKeyCoverage(ckpt: SdxlCheckpoint): SdxlKeyCoverage {
  const reader = openSafetensors(ckpt.path);
  try {
    const used = new Set<string>();
    const missing: string[] = [];
    const m = downsampleFactor(ckpt.unetConfig);
    const unet = paramsOf(buildUNetGraph(ckpt.unetConfig, { batch: 1, height: m, width: m, seqLen: 1 }));
    const fileKey = unetWeights(reader, ckpt.unetConfig).fileKey;
    const components = {} as SdxlKeyCoverage['components'];
    components.unet = { params: unet.length, found: check(reader, unet, (n, s) => ({ key: fileKey(n), shape: s }), used, missing) };

    if (ckpt.textL) {
      const l = paramsOf(clipTextGraph(ckpt.textL.config, { batch: 1, seqLen: 1 }));
      components.textL = { params: l.length, found: check(reader, l, (n, s) => ({ key: BASE_L_PREFIX + n, shape: s }), used, missing) };
    } else {
      components.textL = { params: 0, found: 0 };
    }

    const gPrefix = reader.has(`${BASE_G_PREFIX}token_embedding.weight`) ? BASE_G_PREFIX : REFINER_G_PREFIX;
    const gCfg = ckpt.textG.config;
    const g = paramsOf(clipTextGraph(gCfg, { batch: 1, seqLen: 1, withProjection: true }));
    components.textG = {
      params: g.length,
      found: check(reader, g, (n, s) => {
        if (n === 'text_projection.weight' && reader.has(`${gPrefix}text_projection.weight`)) return { key: `${gPrefix}${n}`, shape: s };
        const k = openClipTextKey(n, gCfg.hidden_size);
        if (!k) return undefined;
        const shape = k.rows ? (s.length === 2 ? [3 * s[0], s[1]] : [3 * s[0]]) : k.transpose ? [...s].reverse() : s;
        return { key: gPrefix + k.key, shape };
      }, used, missing),
    };

    const vc = ckpt.vaeConfig;
    const levels = vc.block_out_channels.length;
    const f = ckpt.vaeScaleFactor;
    const vae = [...new Map([...paramsOf(vaeDecodeGraph(vc, [1, vc.latent_channels, 1, 1])), ...paramsOf(vaeEncodeGraph(vc, [1, vc.in_channels, f, f]))])];
    components.vae = {
      params: vae.length,
      found: check(reader, vae, (n, s) => {
        const k = ldmVaeKey(n, levels);
        if (!k) return undefined;
        // LDM stores the mid-block attention projections as 1×1 convs.
        const conv = /mid\.attn_1\.(q|k|v|proj_out)\.weight$/.test(k) && s.length === 2;
        return { key: LDM_VAE_PREFIX + k, shape: conv ? [...s, 1, 1] : s };
      }, used, missing),
    };
    const unused = [...reader.tensors.keys()].filter((k) => !used.has(k)).sort();
    return { components, missing, usedKeys: [...used].filter((k) => reader.has(k)).length, unused };
  } finally {
    reader.close();
  }
}
