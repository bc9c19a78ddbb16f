import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { openSafetensors } from '../safetensors.ts';
import { goldenRoot } from '../../../test/golden/io.ts';
import { diffusersToLdmControlNetKey, ldmToDiffusersControlNetKey, type LdmControlNetLayout } from './ldmControlnet.ts';

// SD1.5 ControlNet: 4 levels × 2 layers, hint encoder (16, 32, 96, 256).
const SD15: LdmControlNetLayout = { layersPerBlock: [2, 2, 2, 2], conditioningStages: 4 };

describe('LDM ↔ diffusers ControlNet keys', () => {
  it('maps the SD1.5 control_model layout at known points', () => {
    const cases: [string, string][] = [
      ['controlnet_cond_embedding.conv_in.weight', 'input_hint_block.0.weight'],
      ['controlnet_cond_embedding.blocks.0.bias', 'input_hint_block.2.bias'],
      ['controlnet_cond_embedding.blocks.5.weight', 'input_hint_block.12.weight'],
      ['controlnet_cond_embedding.conv_out.weight', 'input_hint_block.14.weight'],
      ['controlnet_down_blocks.0.weight', 'zero_convs.0.0.weight'],
      ['controlnet_down_blocks.11.bias', 'zero_convs.11.0.bias'],
      ['controlnet_mid_block.weight', 'middle_block_out.0.weight'],
      ['conv_in.weight', 'input_blocks.0.0.weight'],
      ['time_embedding.linear_1.weight', 'time_embed.0.weight'],
      ['down_blocks.1.attentions.0.proj_in.weight', 'input_blocks.4.1.proj_in.weight'],
      ['down_blocks.2.downsamplers.0.conv.weight', 'input_blocks.9.0.op.weight'],
      ['mid_block.resnets.1.norm1.weight', 'middle_block.2.in_layers.0.weight'],
    ];
    for (const [d, l] of cases) {
      expect(diffusersToLdmControlNetKey(d, SD15), d).toBe(l);
      expect(ldmToDiffusersControlNetKey(l, SD15), l).toBe(d);
    }
  });

  it('refuses keys that are not part of a ControlNet', () => {
    expect(diffusersToLdmControlNetKey('up_blocks.0.resnets.0.conv1.weight', SD15)).toBeUndefined();
    expect(diffusersToLdmControlNetKey('conv_out.weight', SD15)).toBeUndefined();
    expect(diffusersToLdmControlNetKey('controlnet_cond_embedding.blocks.6.weight', SD15)).toBeUndefined();
    expect(ldmToDiffusersControlNetKey('input_hint_block.1.weight', SD15)).toBeUndefined(); // a SiLU slot
    expect(ldmToDiffusersControlNetKey('input_hint_block.16.weight', SD15)).toBeUndefined();
    expect(ldmToDiffusersControlNetKey('output_blocks.0.0.in_layers.0.weight', SD15)).toBeUndefined();
  });

  it('round-trips every key of the golden ControlNet (2 levels × 1 layer, 4 hint stages) one-to-one', () => {
    const r = openSafetensors(join(goldenRoot, 'controlnet/cn_c16_16_32_32/diffusion_pytorch_model.safetensors'));
    const layout: LdmControlNetLayout = { layersPerBlock: [1, 1], conditioningStages: 4 };
    const seen = new Set<string>();
    for (const key of r.tensors.keys()) {
      const ldm = diffusersToLdmControlNetKey(key, layout);
      expect(ldm, key).toBeDefined();
      expect(seen.has(ldm!), `${ldm} mapped twice`).toBe(false);
      seen.add(ldm!);
      expect(ldmToDiffusersControlNetKey(ldm!, layout)).toBe(key);
    }
    expect(seen.size).toBe(r.tensors.size);
    r.close();
  });
});
