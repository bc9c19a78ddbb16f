// VAE keys of single-file LDM checkpoints (`first_stage_model.*` in A1111/ComfyUI files, or bare in
// standalone VAE files such as vae-ft-mse-840000) mapped from our diffusers names. The LDM mid-block
// attention stores q/k/v/proj_out as 1×1 convs [C,C,1,1]; diffusers uses Linear [C,C]: the store below
// serves them reshaped. Sources: diffusers `single_file_utils.py` (convert_ldm_vae_checkpoint),
// stable-diffusion.cpp `name_conversion.cpp`.
import type { ParamData, WeightStore } from '../../graph/weights.ts';
import type { SafetensorsReader } from '../safetensors.ts';
import { safetensorsWeights } from '../store.ts';

export const LDM_VAE_PREFIX = 'first_stage_model.';

const RESNET_PARTS: Record<string, string> = { conv_shortcut: 'nin_shortcut' };
const ATTN_PARTS: Record<string, string> = { group_norm: 'norm', to_q: 'q', to_k: 'k', to_v: 'v', 'to_out.0': 'proj_out' };

function midBlock(rest: string): string | undefined {
  let m = /^resnets\.([01])\.(\w+)\.(weight|bias)$/.exec(rest);
  if (m) return `mid.block_${Number(m[1]) + 1}.${RESNET_PARTS[m[2]] ?? m[2]}.${m[3]}`;
  m = /^attentions\.0\.(group_norm|to_q|to_k|to_v|to_out\.0)\.(weight|bias)$/.exec(rest);
  if (m) return `mid.attn_1.${ATTN_PARTS[m[1]]}.${m[2]}`;
  return undefined;
}

/**
 * Our (diffusers) VAE parameter name → the LDM name, for a VAE with `levels` resolution levels
 * (decoder up blocks are numbered in reverse in LDM). Undefined for names that have no LDM form.
 */
export function ldmVaeKey(name: string, levels: number): string | undefined {
  const top = /^(quant_conv|post_quant_conv)\.(weight|bias)$/.exec(name);
  if (top) return name;
  const m = /^(encoder|decoder)\.(.+)$/.exec(name);
  if (!m) return undefined;
  const [, part, rest] = m;
  const simple: Record<string, string> = { 'conv_in': 'conv_in', 'conv_out': 'conv_out', 'conv_norm_out': 'norm_out' };
  const s = /^(conv_in|conv_out|conv_norm_out)\.(weight|bias)$/.exec(rest);
  if (s) return `${part}.${simple[s[1]]}.${s[2]}`;
  if (rest.startsWith('mid_block.')) {
    const mid = midBlock(rest.slice('mid_block.'.length));
    return mid && `${part}.${mid}`;
  }
  const r = /^(down|up)_blocks\.(\d+)\.resnets\.(\d+)\.(\w+)\.(weight|bias)$/.exec(rest);
  if (r) {
    const level = r[1] === 'down' ? Number(r[2]) : levels - 1 - Number(r[2]);
    return `${part}.${r[1]}.${level}.block.${r[3]}.${RESNET_PARTS[r[4]] ?? r[4]}.${r[5]}`;
  }
  const d = /^down_blocks\.(\d+)\.downsamplers\.0\.conv\.(weight|bias)$/.exec(rest);
  if (d) return `${part}.down.${d[1]}.downsample.conv.${d[2]}`;
  const u = /^up_blocks\.(\d+)\.upsamplers\.0\.conv\.(weight|bias)$/.exec(rest);
  if (u) return `${part}.up.${levels - 1 - Number(u[1])}.upsample.conv.${u[2]}`;
  return undefined;
}

/** Where the VAE sits in a safetensors file, judged by its keys. */
export type VaeFileLayout = { kind: 'ldm'; prefix: string; levels: number } | { kind: 'diffusers'; prefix: string };

export function detectVaeLayout(reader: SafetensorsReader): VaeFileLayout | undefined {
  for (const prefix of [LDM_VAE_PREFIX, '', 'vae.']) {
    if (reader.has(`${prefix}encoder.down.0.block.0.norm1.weight`)) {
      let levels = 0;
      while (reader.has(`${prefix}encoder.down.${levels}.block.0.norm1.weight`)) levels++;
      return { kind: 'ldm', prefix, levels };
    }
    if (reader.has(`${prefix}encoder.down_blocks.0.resnets.0.norm1.weight`)) return { kind: 'diffusers', prefix };
  }
  return undefined;
}

/** Attention projections stored as 1×1 convs are served as the [C,C] Linear weights the graph declares. */
export function squeezeAttentionConvs(store: WeightStore): WeightStore {
  return {
    get(name): ParamData | undefined {
      const p = store.get(name);
      if (!p || !/mid_block\.attentions\.0\.(to_q|to_k|to_v|to_out\.0)\.weight$/.test(name)) return p;
      if (p.shape.length === 4 && p.shape[2] === 1 && p.shape[3] === 1) return { ...p, shape: [p.shape[0], p.shape[1]] };
      return p;
    },
    keys: () => store.keys(),
    fingerprint: () => `${store.fingerprint()}:squeeze-attn`,
  };
}

/** A store serving diffusers-named VAE parameters from an LDM-layout file. */
export function ldmVaeWeights(reader: SafetensorsReader, layout: { prefix: string; levels: number }): WeightStore {
  return squeezeAttentionConvs(safetensorsWeights(reader, {
    prefix: layout.prefix,
    keyMap: (name) => ldmVaeKey(name, layout.levels) ?? `<no LDM key for ${name}>`,
  }));
}
