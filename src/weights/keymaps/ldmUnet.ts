// UNet key names: diffusers ↔ LDM (CompVis / A1111 single files, under `model.diffusion_model.`).
// diffusers' own converter hard-codes 4 levels × 2 layers; this is the same table generalised over the
// level count and layers per level (see shared/golden/README.md):
//   down level i, layer j      → input_blocks.{s_i + j}.{0 resnet | 1 attention},  s_i = 1 + Σ_{k<i}(lpb_k + 1)
//   down level i downsampler   → input_blocks.{s_i + lpb_i}.0.op
//   up level i, layer j        → output_blocks.{u_i + j}.{0 | 1},                 u_i = Σ_{k<i}(rlpb_k + 1)
//   up level i upsampler       → output_blocks.{u_i + rlpb_i}.{1, or 2 after an attention}.conv
// with rlpb the per-level layers in up order (reversed). Attention internals keep their names.

/** The structure the mapping depends on (all lists in diffusers block order). */
export interface LdmUnetLayout {
  /** layers_per_block for each down level. */
  layersPerBlock: readonly number[];
  /** Whether up block i is a CrossAttnUpBlock2D (decides where its upsampler sits in output_blocks). */
  upBlockHasAttention: readonly boolean[];
}

const TOP: Record<string, string> = {
  'time_embedding.linear_1': 'time_embed.0',
  'time_embedding.linear_2': 'time_embed.2',
  'add_embedding.linear_1': 'label_emb.0.0',
  'add_embedding.linear_2': 'label_emb.0.2',
  conv_in: 'input_blocks.0.0',
  conv_norm_out: 'out.0',
  conv_out: 'out.2',
};

const RESNET: Record<string, string> = {
  norm1: 'in_layers.0',
  conv1: 'in_layers.2',
  time_emb_proj: 'emb_layers.1',
  norm2: 'out_layers.0',
  conv2: 'out_layers.3',
  conv_shortcut: 'skip_connection',
};

const invert = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [v, k]));
const TOP_INV = invert(TOP);
const RESNET_INV = invert(RESNET);

function starts(layout: LdmUnetLayout): { down: number[]; up: number[]; upLayers: number[] } {
  const lpb = layout.layersPerBlock;
  const down: number[] = [];
  let s = 1;
  for (const l of lpb) {
    down.push(s);
    s += l + 1;
  }
  const upLayers = [...lpb].reverse();
  const up: number[] = [];
  let u = 0;
  for (const l of upLayers) {
    up.push(u);
    u += l + 1;
  }
  return { down, up, upLayers };
}

/** `module.rest` → mapped module + rest, trying the longest module prefixes in `table`. */
function mapPrefix(key: string, table: Record<string, string>): string | undefined {
  for (const [from, to] of Object.entries(table)) {
    if (key === from || key.startsWith(`${from}.`)) return to + key.slice(from.length);
  }
  return undefined;
}

/** Renames the module inside a resnet: ".norm1.weight" ↔ ".in_layers.0.weight". */
function resnetInner(rest: string, table: Record<string, string>): string {
  const mapped = mapPrefix(rest.slice(1), table);
  return mapped === undefined ? rest : `.${mapped}`;
}

/** diffusers key → LDM key (without the `model.diffusion_model.` prefix); undefined when not a UNet key. */
export function diffusersToLdmUnetKey(key: string, layout: LdmUnetLayout): string | undefined {
  const top = mapPrefix(key, TOP);
  if (top !== undefined) return top;
  const s = starts(layout);
  let m = /^down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)(\..+)$/.exec(key);
  if (m) {
    const i = Number(m[1]);
    const j = Number(m[3]);
    if (i >= s.down.length || j >= layout.layersPerBlock[i]) return undefined;
    const idx = s.down[i] + j;
    return m[2] === 'resnets' ? `input_blocks.${idx}.0${resnetInner(m[4], RESNET)}` : `input_blocks.${idx}.1${m[4]}`;
  }
  m = /^down_blocks\.(\d+)\.downsamplers\.0\.conv(\..+)$/.exec(key);
  if (m) {
    const i = Number(m[1]);
    if (i >= s.down.length) return undefined;
    return `input_blocks.${s.down[i] + layout.layersPerBlock[i]}.0.op${m[2]}`;
  }
  m = /^mid_block\.(resnets|attentions)\.(\d+)(\..+)$/.exec(key);
  if (m) {
    const j = Number(m[2]);
    return m[1] === 'resnets' ? `middle_block.${2 * j}${resnetInner(m[3], RESNET)}` : `middle_block.${2 * j + 1}${m[3]}`;
  }
  m = /^up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)(\..+)$/.exec(key);
  if (m) {
    const i = Number(m[1]);
    const j = Number(m[3]);
    if (i >= s.up.length || j > s.upLayers[i]) return undefined;
    const idx = s.up[i] + j;
    return m[2] === 'resnets' ? `output_blocks.${idx}.0${resnetInner(m[4], RESNET)}` : `output_blocks.${idx}.1${m[4]}`;
  }
  m = /^up_blocks\.(\d+)\.upsamplers\.0\.conv(\..+)$/.exec(key);
  if (m) {
    const i = Number(m[1]);
    if (i >= s.up.length) return undefined;
    return `output_blocks.${s.up[i] + s.upLayers[i]}.${layout.upBlockHasAttention[i] ? 2 : 1}.conv${m[2]}`;
  }
  return undefined;
}

/** Which level an index falls into, given level start indices and lengths. */
function locate(idx: number, levelStarts: readonly number[], lengths: readonly number[]): [number, number] | undefined {
  for (let i = 0; i < levelStarts.length; i++) {
    const j = idx - levelStarts[i];
    if (j >= 0 && j < lengths[i]) return [i, j];
  }
  return undefined;
}

/** LDM key (without prefix) → diffusers key; undefined when it is not a UNet key of this layout. */
export function ldmToDiffusersUnetKey(key: string, layout: LdmUnetLayout): string | undefined {
  const top = mapPrefix(key, TOP_INV);
  if (top !== undefined) return top;
  const s = starts(layout);
  const lpb = layout.layersPerBlock;
  let m = /^input_blocks\.(\d+)\.(\d+)(\..+)$/.exec(key);
  if (m) {
    const loc = locate(Number(m[1]), s.down, lpb.map((l) => l + 1));
    if (!loc) return undefined;
    const [i, j] = loc;
    if (j === lpb[i]) return m[2] === '0' && m[3].startsWith('.op.') ? `down_blocks.${i}.downsamplers.0.conv${m[3].slice(3)}` : undefined;
    if (m[2] === '0') return `down_blocks.${i}.resnets.${j}${resnetInner(m[3], RESNET_INV)}`;
    if (m[2] === '1') return `down_blocks.${i}.attentions.${j}${m[3]}`;
    return undefined;
  }
  m = /^middle_block\.(\d+)(\..+)$/.exec(key);
  if (m) {
    const k = Number(m[1]);
    return k % 2 === 0 ? `mid_block.resnets.${k / 2}${resnetInner(m[2], RESNET_INV)}` : `mid_block.attentions.${(k - 1) / 2}${m[2]}`;
  }
  m = /^output_blocks\.(\d+)\.(\d+)(\..+)$/.exec(key);
  if (m) {
    const loc = locate(Number(m[1]), s.up, s.upLayers.map((l) => l + 1));
    if (!loc) return undefined;
    const [i, j] = loc;
    const sub = Number(m[2]);
    const upsamplerSlot = layout.upBlockHasAttention[i] ? 2 : 1;
    if (j === s.upLayers[i] && sub === upsamplerSlot && m[3].startsWith('.conv.')) return `up_blocks.${i}.upsamplers.0${m[3]}`;
    if (sub === 0) return `up_blocks.${i}.resnets.${j}${resnetInner(m[3], RESNET_INV)}`;
    if (sub === 1 && layout.upBlockHasAttention[i]) return `up_blocks.${i}.attentions.${j}${m[3]}`;
    return undefined;
  }
  return undefined;
}

/** The prefix of the UNet inside an LDM single-file checkpoint. */
export const LDM_UNET_PREFIX = 'model.diffusion_model.';
