// ControlNet single files (A1111 / ComfyUI `control_*.safetensors`) carry no config.json; the structure is
// read from tensor shapes instead: levels, layers, channels, attention placement and depth, linear vs conv
// projections, context width, the hint encoder, SDXL's label embedding. Not in the shapes, so taken from
// the released models: head counts (context 768 = SD1: 8 heads; otherwise 64-wide heads) and
// norm_num_groups 32 — the same rules as the UNet's (models/unet/ldmConfig.ts).
import type { SafetensorsReader } from '../../weights/safetensors.ts';
import { diffusersToLdmControlNetKey, type LdmControlNetLayout } from '../../weights/keymaps/ldmControlnet.ts';
import { ControlNetConfigError, parseControlNetConfig, type ControlNetConfig } from './config.ts';

/** Tensor shape by our (diffusers) parameter name, or undefined when absent. */
export type ShapeOf = (name: string) => readonly number[] | undefined;

/** Layers per level and hint stages of an LDM ControlNet, from its key names (needed before keys can be mapped). */
export function ldmControlNetLayout(reader: SafetensorsReader, prefix: string): LdmControlNetLayout {
  const has = (k: string) => reader.has(prefix + k);
  const layersPerBlock: number[] = [];
  let layers = 0;
  for (let i = 1; ; i++) {
    if (has(`input_blocks.${i}.0.op.weight`)) {
      layersPerBlock.push(layers);
      layers = 0;
    } else if (has(`input_blocks.${i}.0.in_layers.2.weight`)) {
      layers++;
    } else break;
  }
  if (layers) layersPerBlock.push(layers);
  let last = -1;
  for (const k of reader.tensors.keys()) {
    const m = /^input_hint_block\.(\d+)\.weight$/.exec(k.slice(prefix.length));
    if (k.startsWith(prefix) && m) last = Math.max(last, Number(m[1]));
  }
  if (!layersPerBlock.length || last < 2) throw new ControlNetConfigError(`${reader.path}: no input_blocks / input_hint_block tensors under "${prefix}"; not an LDM ControlNet`);
  return { layersPerBlock, conditioningStages: (last + 2) / 4 };
}

/** Infers the config from shapes addressed by diffusers names (works for both key layouts). */
export function inferControlNetConfig(shapeOf: ShapeOf, where: string): ControlNetConfig {
  const need = (k: string) => {
    const s = shapeOf(k);
    if (!s) throw new ControlNetConfigError(`${where}: cannot infer the ControlNet config, ${k} is missing`);
    return s;
  };
  const convIn = need('conv_in.weight');
  const levels: { channels: number; layers: number; attention: boolean; depth: number }[] = [];
  for (let i = 0; shapeOf(`down_blocks.${i}.resnets.0.conv1.weight`); i++) {
    const level = { channels: 0, layers: 0, attention: false, depth: 0 };
    for (let j = 0; shapeOf(`down_blocks.${i}.resnets.${j}.conv1.weight`); j++) {
      level.channels = shapeOf(`down_blocks.${i}.resnets.${j}.conv1.weight`)![0];
      level.layers++;
    }
    if (shapeOf(`down_blocks.${i}.attentions.0.proj_in.weight`)) {
      level.attention = true;
      while (shapeOf(`down_blocks.${i}.attentions.0.transformer_blocks.${level.depth}.norm1.weight`)) level.depth++;
    }
    levels.push(level);
  }
  if (!levels.length) throw new ControlNetConfigError(`${where}: no down block resnets found; not a ControlNet`);
  const lpb = levels[0].layers;
  if (levels.some((l) => l.layers !== lpb)) throw new ControlNetConfigError(`${where}: levels have different layer counts (${levels.map((l) => l.layers).join(', ')}); pass a config`);

  const attnAt = levels.findIndex((l) => l.attention);
  const attn = attnAt < 0 ? 'mid_block.attentions.0' : `down_blocks.${attnAt}.attentions.0`;
  const contextDim = need(`${attn}.transformer_blocks.0.attn2.to_k.weight`)[1];
  const linear = need(`${attn}.proj_in.weight`).length === 2;
  const channels = levels.map((l) => l.channels);
  const sd1 = contextDim === 768;
  const depth = levels.map((l) => l.depth || 1);
  let midDepth = 0;
  while (shapeOf(`mid_block.attentions.0.transformer_blocks.${midDepth}.norm1.weight`)) midDepth++;
  depth[depth.length - 1] = midDepth || depth[depth.length - 1];

  const hintIn = need('controlnet_cond_embedding.conv_in.weight');
  const embedding = [hintIn[0]];
  for (let i = 1; shapeOf(`controlnet_cond_embedding.blocks.${i}.weight`); i += 2) embedding.push(shapeOf(`controlnet_cond_embedding.blocks.${i}.weight`)![0]);

  const raw: Record<string, unknown> = {
    _class_name: 'ControlNetModel',
    in_channels: convIn[1],
    conv_in_kernel: convIn[2],
    block_out_channels: channels,
    layers_per_block: lpb,
    down_block_types: levels.map((l) => (l.attention ? 'CrossAttnDownBlock2D' : 'DownBlock2D')),
    cross_attention_dim: contextDim,
    use_linear_projection: linear,
    attention_head_dim: sd1 ? 8 : channels.map((c) => (c % 64 === 0 ? c / 64 : 8)),
    transformer_layers_per_block: depth,
    norm_num_groups: 32,
    conditioning_channels: hintIn[1],
    conditioning_embedding_out_channels: embedding,
  };
  const label = shapeOf('add_embedding.linear_1.weight');
  if (label) Object.assign(raw, { addition_embed_type: 'text_time', addition_time_embed_dim: 256, projection_class_embeddings_input_dim: label[1] });
  return parseControlNetConfig(raw);
}

/** Shape lookup by diffusers name over a file in either layout. */
export function shapeLookup(reader: SafetensorsReader, prefix: string, layout?: LdmControlNetLayout): ShapeOf {
  return (name) => {
    const key = layout ? diffusersToLdmControlNetKey(name, layout) : name;
    if (key === undefined || !reader.has(prefix + key)) return undefined;
    return reader.info(prefix + key).shape;
  };
}
