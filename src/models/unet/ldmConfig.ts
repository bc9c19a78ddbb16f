// Derives a diffusers UNet config from the tensor shapes of an LDM single-file checkpoint (A1111 /
// ComfyUI style), which carries no config. Structure (levels, layers, channels, attention placement,
// transformer depth, linear vs conv projections, context width, SDXL label embedding) is read from the
// shapes. Two things are not in the shapes and follow the released models: head counts (SD2/SDXL context
// widths 1024/2048: 64-wide heads; otherwise 8 heads as SD1) and norm_num_groups (32). Pass an explicit config for anything else.
import type { SafetensorsReader } from '../../weights/safetensors.ts';
import { LDM_UNET_PREFIX } from '../../weights/keymaps/ldmUnet.ts';
import { parseUNetConfig, UNetConfigError, type UNetConfig } from './config.ts';

export function inferLdmUNetConfig(reader: SafetensorsReader): UNetConfig {
  const prefix = reader.has(`${LDM_UNET_PREFIX}input_blocks.0.0.weight`) ? LDM_UNET_PREFIX : '';
  const shape = (k: string) => (reader.has(prefix + k) ? reader.info(prefix + k).shape : undefined);
  const need = (k: string) => {
    const s = shape(k);
    if (!s) throw new UNetConfigError(`${reader.path}: cannot infer the UNet config, ${prefix + k} is missing`);
    return s;
  };
  const convIn = need('input_blocks.0.0.weight');
  const convOut = need('out.2.weight');

  // Walk input_blocks: resnets (in_layers) belong to the current level, an `.op` downsampler ends it.
  const levels: { channels: number; layers: number; attention: boolean; depth: number }[] = [];
  let cur = { channels: 0, layers: 0, attention: false, depth: 0 };
  for (let i = 1; ; i++) {
    if (shape(`input_blocks.${i}.0.op.weight`)) {
      levels.push(cur);
      cur = { channels: 0, layers: 0, attention: false, depth: 0 };
      continue;
    }
    const res = shape(`input_blocks.${i}.0.in_layers.2.weight`);
    if (!res) break;
    cur.channels = res[0];
    cur.layers++;
    if (shape(`input_blocks.${i}.1.proj_in.weight`)) {
      cur.attention = true;
      let d = 0;
      while (shape(`input_blocks.${i}.1.transformer_blocks.${d}.norm1.weight`)) d++;
      cur.depth = d;
    }
  }
  if (cur.layers) levels.push(cur);
  if (!levels.length) throw new UNetConfigError(`${reader.path}: no input_blocks resnets found; not an LDM UNet`);

  const n = levels.length;
  const lpb = levels[0].layers;
  if (levels.some((l) => l.layers !== lpb)) throw new UNetConfigError(`${reader.path}: levels have different layer counts (${levels.map((l) => l.layers).join(', ')}); pass a config`);
  // Up level i mirrors down level n−1−i; its attention shows in output_blocks.{(lpb+1)i}.1.
  const upAttention = levels.map((_, i) => Boolean(shape(`output_blocks.${(lpb + 1) * i}.1.proj_in.weight`)));
  const anyAttn = [...levels.keys()].find((i) => levels[i].attention);
  const attnPrefix = anyAttn === undefined ? 'middle_block.1' : `input_blocks.${1 + (lpb + 1) * anyAttn}.1`;
  const contextDim = need(`${attnPrefix}.transformer_blocks.0.attn2.to_k.weight`)[1];
  const linear = need(`${attnPrefix}.proj_in.weight`).length === 2;
  const channels = levels.map((l) => l.channels);
  // SD2 (1024) and SDXL (2048) use 64-wide heads; SD1 (768) and anything else diffusers' default 8 heads.
  const wideHeads = contextDim === 1024 || contextDim === 2048;
  const heads = channels.map((c) => (wideHeads && c % 64 === 0 ? c / 64 : 8));
  const depth = levels.map((l) => l.depth || 1);
  let midDepth = 0;
  while (shape(`middle_block.1.transformer_blocks.${midDepth}.norm1.weight`)) midDepth++;
  depth[n - 1] = midDepth || depth[n - 1];

  // conv_in maps the latent to the first level's channels, conv_out maps them back: a shape that does
  // not fit (a transposed tensor) is damage, not a different kind of model.
  if (convIn.length !== 4 || convIn[0] !== channels[0]) {
    const hint = convIn[1] === channels[0] ? '; it looks transposed' : '';
    throw new UNetConfigError(`${reader.path}: ${prefix}input_blocks.0.0.weight (conv_in) has shape [${convIn.join(', ')}], but its output channels must be the first level's ${channels[0]}${hint} — the file is damaged or was converted wrongly (re-export the checkpoint)`);
  }
  if (convOut.length !== 4 || convOut[1] !== channels[0]) {
    const hint = convOut[0] === channels[0] ? '; it looks transposed' : '';
    throw new UNetConfigError(`${reader.path}: ${prefix}out.2.weight (conv_out) has shape [${convOut.join(', ')}], but its input channels must be the first level's ${channels[0]}${hint} — the file is damaged or was converted wrongly (re-export the checkpoint)`);
  }

  const raw: Record<string, unknown> = {
    _class_name: 'UNet2DConditionModel',
    in_channels: convIn[1],
    out_channels: convOut[0],
    block_out_channels: channels,
    layers_per_block: lpb,
    conv_in_kernel: convIn[2],
    conv_out_kernel: convOut[2],
    down_block_types: levels.map((l) => (l.attention ? 'CrossAttnDownBlock2D' : 'DownBlock2D')),
    up_block_types: upAttention.map((a) => (a ? 'CrossAttnUpBlock2D' : 'UpBlock2D')),
    cross_attention_dim: contextDim,
    use_linear_projection: linear,
    attention_head_dim: heads,
    transformer_layers_per_block: depth,
    norm_num_groups: 32,
  };
  const label = shape('label_emb.0.0.weight');
  if (label) {
    // SDXL: 2816 = 1280 pooled text + 6 × 256 time ids.
    Object.assign(raw, { addition_embed_type: 'text_time', addition_time_embed_dim: 256, projection_class_embeddings_input_dim: label[1] });
  }
  return parseUNetConfig(raw);
}
