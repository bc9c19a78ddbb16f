import { describe, it, expect } from 'vitest';
import type { SafetensorsReader, TensorInfo } from '../../weights/safetensors.ts';
import { diffusersToLdmUnetKey, LDM_UNET_PREFIX } from '../../weights/keymaps/ldmUnet.ts';
import { parseUNetConfig } from './config.ts';
import { buildUNetGraph, ldmLayout } from './load.ts';
import { inferLdmUNetConfig } from './ldmConfig.ts';
import { SD15_CONFIG, SD21_CONFIG, SDXL_CONFIG } from './testConfigs.ts';

/** A header-only reader holding the LDM key names and shapes of a full-size UNet (no data: only shapes are read). */
function ldmHeaderOf(raw: object): SafetensorsReader {
  const config = parseUNetConfig(raw);
  const g = buildUNetGraph(config, { batch: 1, height: 8, width: 8, seqLen: 1 });
  const tensors = new Map<string, TensorInfo>();
  for (const [name, id] of g.params) {
    const key = LDM_UNET_PREFIX + diffusersToLdmUnetKey(name, ldmLayout(config))!;
    tensors.set(key, { name: key, dtype: 'F16', shape: [...g.values[id].shape], byteOffset: 0, byteLength: 0 });
  }
  const info = (k: string) => {
    const t = tensors.get(k);
    if (!t) throw new Error(`no ${k}`);
    return t;
  };
  return { path: 'fake.safetensors', tensors, metadata: {}, has: (k: string) => tensors.has(k), info } as unknown as SafetensorsReader;
}

describe('inferLdmUNetConfig', () => {
  it('recovers SD1.5, SD2.1 and SDXL configs from LDM single-file shapes', () => {
    for (const [name, raw] of [['SD1.5', SD15_CONFIG], ['SD2.1', SD21_CONFIG], ['SDXL', SDXL_CONFIG]] as const) {
      const inferred = inferLdmUNetConfig(ldmHeaderOf(raw));
      // upcast_attention is not in the shapes (and changes nothing in f32 graphs).
      expect({ ...inferred, upcastAttention: false }, name).toEqual({ ...parseUNetConfig(raw), upcastAttention: false });
    }
  });

  it('says which key it needed when the file is not a UNet', () => {
    const reader = { path: 'vae.safetensors', has: () => false, info: () => { throw new Error('x'); } } as unknown as SafetensorsReader;
    expect(() => inferLdmUNetConfig(reader)).toThrow(/cannot infer the UNet config, input_blocks\.0\.0\.weight is missing/);
  });
});
