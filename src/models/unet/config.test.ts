import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { goldenRoot } from '../../../test/golden/io.ts';
import { parseUNetConfig, downsampleFactor, UNetConfigError } from './config.ts';
import { SD15_CONFIG, SD21_CONFIG } from './testConfigs.ts';

const tiny = () => JSON.parse(readFileSync(join(goldenRoot, 'models/unet_tiny/config.json'), 'utf8'));

describe('parseUNetConfig', () => {
  it('reads attention_head_dim as the number of heads when num_attention_heads is null', () => {
    const c = parseUNetConfig(tiny());
    expect(c.down.map((d) => d.heads)).toEqual([8, 8]);
    expect(c.mid.heads).toBe(8);
    expect(c.down.map((d) => [d.inChannels, d.outChannels, d.attention, d.downsample])).toEqual([[32, 32, true, true], [32, 64, false, false]]);
    expect(c.up.map((u) => [u.prevOutChannels, u.inChannels, u.outChannels, u.layers, u.attention, u.upsample])).toEqual([[64, 32, 64, 2, false, true], [64, 32, 32, 2, true, false]]);
    expect(downsampleFactor(c)).toBe(2);
  });

  it('prefers num_attention_heads and expands per-block lists', () => {
    const c = parseUNetConfig({ ...tiny(), num_attention_heads: [2, 4], attention_head_dim: 99, transformer_layers_per_block: [1, 3] });
    expect(c.down.map((d) => d.heads)).toEqual([2, 4]);
    expect(c.up.map((u) => u.heads)).toEqual([4, 2]);
    expect(c.mid).toMatchObject({ heads: 4, transformerLayers: 3 });
    expect(c.up.map((u) => u.transformerLayers)).toEqual([3, 1]);
  });

  it('reads SD1.5 and SD2.1 configs', () => {
    const sd15 = parseUNetConfig(SD15_CONFIG);
    expect(sd15.down.map((d) => d.heads)).toEqual([8, 8, 8, 8]);
    expect(sd15.crossAttentionDim).toBe(768);
    expect(downsampleFactor(sd15)).toBe(8);
    const sd21 = parseUNetConfig(SD21_CONFIG);
    expect(sd21.down.map((d) => d.heads)).toEqual([5, 10, 20, 20]);
    expect(sd21).toMatchObject({ useLinearProjection: true, upcastAttention: true, crossAttentionDim: 1024 });
  });

  it('reads the SDRO conditioning embedding', () => {
    const c = parseUNetConfig(JSON.parse(readFileSync(join(goldenRoot, 'models/sdro_unet_tiny/config.json'), 'utf8')));
    expect(c.className).toBe('UNet2DDobuleConditionModel');
    expect(c.conditioning).toEqual({ channels: 3, embeddingOutChannels: [8, 8, 16, 16] });
  });

  it('refuses unknown architectures naming the field and value', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ _class_name: 'UNet3DConditionModel' }, /_class_name = "UNet3DConditionModel"/],
      [{ down_block_types: ['SimpleCrossAttnDownBlock2D', 'DownBlock2D'] }, /down_block_types\[0\] = "SimpleCrossAttnDownBlock2D"/],
      [{ up_block_types: ['UpBlock2D', 'AttnUpBlock2D'] }, /up_block_types\[1\] = "AttnUpBlock2D"/],
      [{ act_fn: 'mish' }, /act_fn = "mish"/],
      [{ mid_block_type: null }, /mid_block_type = null/],
      [{ addition_embed_type: 'text_image' }, /addition_embed_type = "text_image"/],
      [{ class_embed_type: 'timestep' }, /class_embed_type = "timestep"/],
      [{ resnet_time_scale_shift: 'scale_shift' }, /resnet_time_scale_shift/],
      [{ only_cross_attention: true }, /only_cross_attention/],
      [{ attention_head_dim: [8, 8, 8] }, /num_attention_heads has 3 entries, but there are 2 down blocks/],
      [{ attention_head_dim: 5 }, /32 channels at level 0 are not divisible into 5 attention heads/],
      [{ up_block_types: ['UpBlock2D'] }, /up_block_types has 1 entries/],
      [{ norm_num_groups: 5 }, /not divisible by norm_num_groups 5/],
      [{ block_out_channels: 'wide' }, /invalid UNet config: block_out_channels/],
      [{ conditioning_channels: 3 }, /only meaningful for UNet2DDobuleConditionModel/],
    ];
    for (const [patch, msg] of bad) {
      expect(() => parseUNetConfig({ ...tiny(), ...patch }), JSON.stringify(patch)).toThrow(msg);
    }
    expect(() => parseUNetConfig(null)).toThrow(UNetConfigError);
    expect(() => parseUNetConfig([1])).toThrow(/must be a JSON object/);
  });
});
