import { describe, expect, it } from 'vitest';
import { memoryWeights } from '../../graph/weights.ts';
import { openSafetensorsBuffer, writeSafetensors } from '../safetensors.ts';
import { detectVaeLayout, ldmVaeKey, squeezeAttentionConvs } from './ldmVae.ts';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('ldmVaeKey', () => {
  it('maps diffusers VAE names to LDM names (decoder levels reversed)', () => {
    const cases: [string, string][] = [
      ['encoder.conv_in.weight', 'encoder.conv_in.weight'],
      ['encoder.down_blocks.1.resnets.0.conv_shortcut.bias', 'encoder.down.1.block.0.nin_shortcut.bias'],
      ['encoder.down_blocks.2.downsamplers.0.conv.weight', 'encoder.down.2.downsample.conv.weight'],
      ['encoder.mid_block.resnets.1.norm2.weight', 'encoder.mid.block_2.norm2.weight'],
      ['encoder.mid_block.attentions.0.group_norm.bias', 'encoder.mid.attn_1.norm.bias'],
      ['decoder.mid_block.attentions.0.to_out.0.weight', 'decoder.mid.attn_1.proj_out.weight'],
      ['encoder.conv_norm_out.weight', 'encoder.norm_out.weight'],
      ['decoder.up_blocks.0.resnets.2.conv1.weight', 'decoder.up.3.block.2.conv1.weight'],
      ['decoder.up_blocks.2.upsamplers.0.conv.bias', 'decoder.up.1.upsample.conv.bias'],
      ['post_quant_conv.weight', 'post_quant_conv.weight'],
    ];
    for (const [ours, ldm] of cases) expect(ldmVaeKey(ours, 4)).toBe(ldm);
    expect(ldmVaeKey('unet.conv_in.weight', 4)).toBeUndefined();
    expect(ldmVaeKey('encoder.mid_block.attentions.0.to_q.lora.weight', 4)).toBeUndefined();
  });

  it('detects the layout and level count from keys', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'inkflow-ldmvae-')), 'x.safetensors');
    const t = (name: string) => ({ name, dtype: 'F32' as const, shape: [1], data: new Float32Array(1) });
    await writeSafetensors(path, [0, 1, 2].map((i) => t(`first_stage_model.encoder.down.${i}.block.0.norm1.weight`)));
    expect(detectVaeLayout(openSafetensorsBuffer(readFileSync(path)))).toEqual({ kind: 'ldm', prefix: 'first_stage_model.', levels: 3 });
    await writeSafetensors(path, [t('encoder.down_blocks.0.resnets.0.norm1.weight')]);
    expect(detectVaeLayout(openSafetensorsBuffer(readFileSync(path)))).toEqual({ kind: 'diffusers', prefix: '' });
    await writeSafetensors(path, [t('model.diffusion_model.conv_in.weight')]);
    expect(detectVaeLayout(openSafetensorsBuffer(readFileSync(path)))).toBeUndefined();
  });

  it('serves 1×1-conv attention weights as Linear weights, nothing else', () => {
    const w = new Float32Array(4);
    const store = squeezeAttentionConvs(memoryWeights({ 'encoder.mid_block.attentions.0.to_k.weight': { dtype: 'f32', shape: [2, 2, 1, 1], data: w }, 'encoder.conv_out.weight': { dtype: 'f32', shape: [2, 2, 1, 1], data: w } }));
    expect(store.get('encoder.mid_block.attentions.0.to_k.weight')!.shape).toEqual([2, 2]);
    expect(store.get('encoder.conv_out.weight')!.shape).toEqual([2, 2, 1, 1]);
  });
});
