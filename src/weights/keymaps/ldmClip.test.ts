import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSafetensorsBuffer, writeSafetensors, type TensorToWrite } from '../safetensors.ts';
import { detectClipTextLayout, ldmClipTextWeights, openClipTextKey } from './ldmClip.ts';

async function fileOf(tensors: TensorToWrite[]) {
  const path = join(mkdtempSync(join(tmpdir(), 'inkflow-ldmclip-')), 'x.safetensors');
  await writeSafetensors(path, tensors);
  return openSafetensorsBuffer(readFileSync(path));
}
const t = (name: string, shape: number[], data?: Float32Array): TensorToWrite => ({ name, dtype: 'F32', shape, data: data ?? new Float32Array(shape.reduce((a, b) => a * b, 1)) });

describe('ldmClip key maps', () => {
  it('maps OpenCLIP names, with q/k/v row ranges of the fused in_proj', () => {
    expect(openClipTextKey('text_model.encoder.layers.3.self_attn.k_proj.weight', 1024)).toEqual({ key: 'transformer.resblocks.3.attn.in_proj_weight', rows: [1024, 2048] });
    expect(openClipTextKey('text_model.encoder.layers.0.self_attn.v_proj.bias', 8)).toEqual({ key: 'transformer.resblocks.0.attn.in_proj_bias', rows: [16, 24] });
    expect(openClipTextKey('text_model.encoder.layers.0.mlp.fc2.weight', 8)).toEqual({ key: 'transformer.resblocks.0.mlp.c_proj.weight' });
    expect(openClipTextKey('text_model.embeddings.position_embedding.weight', 8)).toEqual({ key: 'positional_embedding' });
    expect(openClipTextKey('text_model.encoder.layers.0.self_attn.rotary.weight', 8)).toBeUndefined();
  });

  it('detects SD1, old SD1 (no text_model level) and OpenCLIP layouts', async () => {
    expect(detectClipTextLayout(await fileOf([t('cond_stage_model.transformer.text_model.embeddings.token_embedding.weight', [1])]))).toEqual({ kind: 'transformers', prefix: 'cond_stage_model.transformer.', textModel: true });
    expect(detectClipTextLayout(await fileOf([t('cond_stage_model.transformer.embeddings.token_embedding.weight', [1])]))).toEqual({ kind: 'transformers', prefix: 'cond_stage_model.transformer.', textModel: false });
    const oc = await fileOf([t('cond_stage_model.model.token_embedding.weight', [1]), ...[0, 1, 2].map((i) => t(`cond_stage_model.model.transformer.resblocks.${i}.ln_1.weight`, [1]))]);
    expect(detectClipTextLayout(oc)).toEqual({ kind: 'openclip', prefix: 'cond_stage_model.model.', layers: 3 });
    expect(detectClipTextLayout(await fileOf([t('first_stage_model.encoder.conv_in.weight', [1])]))).toBeUndefined();
  });

  it('splits in_proj and transposes text_projection', async () => {
    const d = 2;
    const inProj = Float32Array.from({ length: 3 * d * d }, (_, i) => i);
    const proj = Float32Array.from([1, 2, 3, 4, 5, 6]); // [D=2, P=3]
    const reader = await fileOf([
      t('cond_stage_model.model.token_embedding.weight', [5, d]),
      t('cond_stage_model.model.transformer.resblocks.0.ln_1.weight', [d]),
      t('cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight', [3 * d, d], inProj),
      t('cond_stage_model.model.text_projection', [d, 3], proj),
    ]);
    const store = ldmClipTextWeights(reader, detectClipTextLayout(reader)!);
    const k = store.get('text_model.encoder.layers.0.self_attn.k_proj.weight')!;
    expect(k.shape).toEqual([d, d]);
    expect(Array.from(new Float32Array(k.bytes.slice().buffer))).toEqual([4, 5, 6, 7]);
    const p = store.get('text_projection.weight')!;
    expect(p.shape).toEqual([3, d]);
    expect(Array.from(new Float32Array(p.bytes.slice().buffer))).toEqual([1, 4, 2, 5, 3, 6]);
    expect(store.get('text_model.encoder.layers.0.self_attn.out_proj.weight')).toBeUndefined();
  });
});
