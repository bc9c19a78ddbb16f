// ComfyUI's clip_preprocess on hand-computable cases, and the CLIP vision config read from a single file's shapes.
import { describe, expect, it } from 'vitest';
import { imageBatch } from '../../imaging/tensorBatch.ts';
import { comfyClipPreprocess } from './comfyClipPreprocess.ts';
import { inferClipVisionConfig } from './loadClipVisionModel.ts';
import { antialiasBicubicMatrix, OPENCLIP_MEAN, OPENCLIP_STD } from './openClipVision.ts';

const f32 = Math.fround;
/** (round(255·v) / 255 − mean) / std in float32, as torch computes it. */
const norm = (v: number, c: number) => f32(f32(f32(Math.round(f32(v * 255)) / 255) - f32(OPENCLIP_MEAN[c])) / f32(OPENCLIP_STD[c]));

describe('ComfyUI clip_preprocess', () => {
  it('an image already size × size is only rounded to 8 bit and normalised', () => {
    const img = imageBatch(1, 2, 2, 3, Float32Array.from({ length: 12 }, (_, i) => i / 11));
    const px = comfyClipPreprocess(img, { size: 2, crop: true });
    expect(px.shape).toEqual([1, 3, 2, 2]);
    for (let c = 0; c < 3; c++) for (let i = 0; i < 4; i++) expect(px.data[c * 4 + i]).toBe(norm(img.data[i * 3 + c], c));
  });

  it('crop "center": the short side already fits, so the centre columns are kept ((8 − 4) // 2 = 2)', () => {
    const img = imageBatch(1, 4, 8, 3, Float32Array.from({ length: 96 }, (_, i) => ((i * 7) % 13) / 13));
    const px = comfyClipPreprocess(img, { size: 4, crop: true });
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) expect(px.data[y * 4 + x]).toBe(norm(img.data[(y * 8 + x + 2) * 3], 0));
  });

  it('crop "none" squeezes to size × size with antialiased bicubic (align_corners False): weights by hand, constants stay', () => {
    // 8 → 4: scale 2, support 4; output 0 centres at 1: taps 0…4, K((j − 0.5) / 2) with Keys a = −0.5.
    const m = antialiasBicubicMatrix(8, 4, false);
    const k = [0.8671875, 0.8671875, 0.2265625, -0.0703125, -0.0234375];
    const total = k.reduce((a, b) => a + b, 0);
    k.forEach((v, j) => expect(m[j]).toBeCloseTo(v / total, 12));
    expect(Array.from(m.subarray(5, 8))).toEqual([0, 0, 0]);
    const grey = imageBatch(1, 6, 8, 3, new Float32Array(144).fill(0.5));
    const px = comfyClipPreprocess(grey, { size: 4, crop: false });
    for (let c = 0; c < 3; c++) for (let i = 0; i < 16; i++) expect(px.data[c * 16 + i]).toBeCloseTo(norm(0.5, c), 6);
  });
});

describe('CLIP vision config from a single file', () => {
  const shapesOf = (width: number, layers: number, tokens: number, patch = 14) => (key: string): number[] | undefined => {
    if (key === 'vision_model.embeddings.patch_embedding.weight') return [width, 3, patch, patch];
    if (key === 'vision_model.embeddings.position_embedding.weight') return [tokens, width];
    if (key === 'vision_model.encoder.layers.0.mlp.fc1.weight') return [width * 4, width];
    if (key === 'visual_projection.weight') return [768, width];
    const m = /^vision_model\.encoder\.layers\.(\d+)\.layer_norm1\.weight$/.exec(key);
    return m && Number(m[1]) < layers ? [width] : undefined;
  };

  it('ViT-L/14 (24 × 1024) gets ComfyUI\'s quick_gelu and 16 heads; 577 positions mean 336 px; ViT-H uses gelu', () => {
    const l = inferClipVisionConfig(shapesOf(1024, 24, 257))!;
    expect([l.hidden_act, l.num_attention_heads, l.image_size, l.patch_size, l.projection_dim, l.intermediate_size]).toEqual(['quick_gelu', 16, 224, 14, 768, 4096]);
    expect(inferClipVisionConfig(shapesOf(1024, 24, 577))!.image_size).toBe(336);
    const h = inferClipVisionConfig(shapesOf(1280, 32, 257))!;
    expect([h.hidden_act, h.num_attention_heads, h.num_hidden_layers]).toEqual(['gelu', 16, 32]);
    expect(inferClipVisionConfig(() => undefined)).toBeUndefined();
  });
});
