// ControlNet key names: diffusers ControlNetModel ↔ the original (lllyasviel cldm) layout that A1111 /
// ComfyUI single files use, under `control_model.` (some files drop the prefix). The trunk is the UNet's
// encoder half and maps exactly like the UNet (keymaps/ldmUnet.ts); three parts are ControlNet's own:
//   controlnet_cond_embedding.conv_in   ↔ input_hint_block.0
//   controlnet_cond_embedding.blocks.i  ↔ input_hint_block.{2(i+1)}      (SiLUs sit at the odd indices)
//   controlnet_cond_embedding.conv_out  ↔ input_hint_block.{4n−2}        (n = conditioning stages, 4 in SD)
//   controlnet_down_blocks.k            ↔ zero_convs.k.0
//   controlnet_mid_block                ↔ middle_block_out.0
import { diffusersToLdmUnetKey, ldmToDiffusersUnetKey } from './ldmUnet.ts';

export const LDM_CONTROLNET_PREFIX = 'control_model.';

export interface LdmControlNetLayout {
  /** layers_per_block for each down level. */
  layersPerBlock: readonly number[];
  /** Entries of conditioning_embedding_out_channels (4 for SD's (16, 32, 96, 256)). */
  conditioningStages: number;
}

/** The UNet mapper also knows up blocks; a ControlNet has none, so only its encoder keys pass. */
const unetLayout = (l: LdmControlNetLayout) => ({ layersPerBlock: l.layersPerBlock, upBlockHasAttention: [] });

const hintConvOut = (l: LdmControlNetLayout) => 4 * l.conditioningStages - 2;

/** diffusers key → LDM key (without `control_model.`); undefined when it is not a ControlNet key. */
export function diffusersToLdmControlNetKey(key: string, layout: LdmControlNetLayout): string | undefined {
  let m = /^controlnet_cond_embedding\.(conv_in|conv_out|blocks\.(\d+))(\..+)$/.exec(key);
  if (m) {
    if (m[1] === 'conv_in') return `input_hint_block.0${m[3]}`;
    if (m[1] === 'conv_out') return `input_hint_block.${hintConvOut(layout)}${m[3]}`;
    const i = Number(m[2]);
    if (i > 2 * layout.conditioningStages - 3) return undefined;
    return `input_hint_block.${2 * (i + 1)}${m[3]}`;
  }
  m = /^controlnet_down_blocks\.(\d+)(\..+)$/.exec(key);
  if (m) return `zero_convs.${m[1]}.0${m[2]}`;
  m = /^controlnet_mid_block(\..+)$/.exec(key);
  if (m) return `middle_block_out.0${m[1]}`;
  if (/^(up_blocks|conv_norm_out|conv_out)\./.test(key)) return undefined;
  return diffusersToLdmUnetKey(key, unetLayout(layout));
}

/** LDM key (without prefix) → diffusers key; undefined when it is not a ControlNet key of this layout. */
export function ldmToDiffusersControlNetKey(key: string, layout: LdmControlNetLayout): string | undefined {
  let m = /^input_hint_block\.(\d+)(\..+)$/.exec(key);
  if (m) {
    const idx = Number(m[1]);
    if (idx % 2 === 1 || idx > hintConvOut(layout)) return undefined;
    if (idx === 0) return `controlnet_cond_embedding.conv_in${m[2]}`;
    if (idx === hintConvOut(layout)) return `controlnet_cond_embedding.conv_out${m[2]}`;
    return `controlnet_cond_embedding.blocks.${idx / 2 - 1}${m[2]}`;
  }
  m = /^zero_convs\.(\d+)\.0(\..+)$/.exec(key);
  if (m) return `controlnet_down_blocks.${m[1]}${m[2]}`;
  m = /^middle_block_out\.0(\..+)$/.exec(key);
  if (m) return `controlnet_mid_block${m[1]}`;
  if (/^(output_blocks|out)\./.test(key)) return undefined;
  return ldmToDiffusersUnetKey(key, unetLayout(layout));
}
