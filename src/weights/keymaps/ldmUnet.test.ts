import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { openSafetensors } from '../safetensors.ts';
import { goldenRoot } from '../../../test/golden/io.ts';
import { diffusersToLdmUnetKey, ldmToDiffusersUnetKey, LDM_UNET_PREFIX, type LdmUnetLayout } from './ldmUnet.ts';

// SD1.5: 4 levels × 2 layers, up blocks (Up, CrossAttnUp ×3) — the table diffusers hard-codes.
const SD15: LdmUnetLayout = { layersPerBlock: [2, 2, 2, 2], upBlockHasAttention: [false, true, true, true] };

describe('LDM ↔ diffusers UNet keys', () => {
  it('matches the hard-coded SD1.5 table at known points', () => {
    const cases: [string, string][] = [
      ['conv_in.weight', 'input_blocks.0.0.weight'],
      ['time_embedding.linear_2.bias', 'time_embed.2.bias'],
      ['down_blocks.0.resnets.1.norm1.weight', 'input_blocks.2.0.in_layers.0.weight'],
      ['down_blocks.0.attentions.1.transformer_blocks.0.attn2.to_k.weight', 'input_blocks.2.1.transformer_blocks.0.attn2.to_k.weight'],
      ['down_blocks.0.downsamplers.0.conv.weight', 'input_blocks.3.0.op.weight'],
      ['down_blocks.2.resnets.0.conv_shortcut.weight', 'input_blocks.7.0.skip_connection.weight'],
      ['down_blocks.3.resnets.1.time_emb_proj.weight', 'input_blocks.11.0.emb_layers.1.weight'],
      ['mid_block.resnets.1.conv2.bias', 'middle_block.2.out_layers.3.bias'],
      ['mid_block.attentions.0.proj_in.weight', 'middle_block.1.proj_in.weight'],
      ['up_blocks.0.resnets.2.conv1.weight', 'output_blocks.2.0.in_layers.2.weight'],
      ['up_blocks.0.upsamplers.0.conv.weight', 'output_blocks.2.1.conv.weight'],
      ['up_blocks.1.attentions.0.norm.weight', 'output_blocks.3.1.norm.weight'],
      ['up_blocks.1.upsamplers.0.conv.bias', 'output_blocks.5.2.conv.bias'],
      ['up_blocks.3.resnets.2.norm2.weight', 'output_blocks.11.0.out_layers.0.weight'],
      ['conv_norm_out.weight', 'out.0.weight'],
      ['conv_out.bias', 'out.2.bias'],
      ['add_embedding.linear_1.weight', 'label_emb.0.0.weight'],
    ];
    for (const [d, l] of cases) {
      expect(diffusersToLdmUnetKey(d, SD15), d).toBe(l);
      expect(ldmToDiffusersUnetKey(l, SD15), l).toBe(d);
    }
  });

  it('refuses keys outside the layout', () => {
    expect(diffusersToLdmUnetKey('down_blocks.4.resnets.0.conv1.weight', SD15)).toBeUndefined();
    expect(diffusersToLdmUnetKey('down_blocks.0.resnets.2.conv1.weight', SD15)).toBeUndefined();
    expect(diffusersToLdmUnetKey('controlnet_cond_embedding.conv_in.weight', SD15)).toBeUndefined();
    expect(ldmToDiffusersUnetKey('input_blocks.12.0.in_layers.0.weight', SD15)).toBeUndefined();
    expect(ldmToDiffusersUnetKey('output_blocks.2.2.conv.weight', SD15)).toBeUndefined(); // up level 0 has no attention
    expect(ldmToDiffusersUnetKey('first_stage_model.decoder.conv_in.weight', SD15)).toBeUndefined();
  });

  it('maps every tensor of the golden LDM tiny UNet onto the diffusers file, byte for byte', () => {
    const dir = join(goldenRoot, 'models/unet_tiny');
    const diff = openSafetensors(join(dir, 'weights.safetensors'));
    const ldm = openSafetensors(join(dir, 'ldm_unet.safetensors'));
    try {
      const layout: LdmUnetLayout = { layersPerBlock: [1, 1], upBlockHasAttention: [false, true] };
      const seen = new Set<string>();
      for (const name of ldm.tensors.keys()) {
        expect(name.startsWith(LDM_UNET_PREFIX), name).toBe(true);
        const d = ldmToDiffusersUnetKey(name.slice(LDM_UNET_PREFIX.length), layout);
        expect(d, name).toBeDefined();
        expect(diff.has(d!), `${name} → ${d}`).toBe(true);
        expect(diffusersToLdmUnetKey(d!, layout)).toBe(name.slice(LDM_UNET_PREFIX.length));
        expect(Buffer.from(ldm.readRaw(name)).equals(Buffer.from(diff.readRaw(d!))), name).toBe(true);
        seen.add(d!);
      }
      expect(seen.size).toBe(diff.tensors.size);
    } finally {
      diff.close();
      ldm.close();
    }
  });
});
