// LoRA merge: kohya / diffusers / PEFT layouts, alpha scaling, conv LoRAs, LDM aliases, unmatched report.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryWeights } from '../graph/weights.ts';
import { writeSafetensors, openSafetensors } from './safetensors.ts';
import { applyLoras } from './lora.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-lora-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const f32 = (a: number[]) => Float32Array.from(a);
const readF32 = (bytes: Uint8Array) => new Float32Array(bytes.slice().buffer);

async function loraFile(name: string, tensors: Record<string, { shape: number[]; data: number[] }>) {
  const path = join(dir, name);
  await writeSafetensors(path, Object.entries(tensors).map(([n, t]) => ({ name: n, dtype: 'F32', shape: t.shape, data: f32(t.data) })));
  return openSafetensors(path);
}

// A 2×3 linear weight and a 2×1×2×2 conv weight, both zero so the merged value is the delta itself.
const base = memoryWeights(
  { 'down_blocks.0.attn1.to_q.weight': new Float32Array(6), 'conv_in.weight': new Float32Array(8), 'conv_in.bias': new Float32Array(2) },
  { 'down_blocks.0.attn1.to_q.weight': [2, 3], 'conv_in.weight': [2, 1, 2, 2] },
);
const params = ['down_blocks.0.attn1.to_q.weight', 'conv_in.weight', 'conv_in.bias'];

describe('applyLoras', () => {
  it('merges a kohya linear LoRA with alpha/rank and strength', async () => {
    const reader = await loraFile('kohya.safetensors', {
      'lora_unet_down_blocks_0_attn1_to_q.lora_down.weight': { shape: [1, 3], data: [1, 2, 3] },
      'lora_unet_down_blocks_0_attn1_to_q.lora_up.weight': { shape: [2, 1], data: [1, -1] },
      'lora_unet_down_blocks_0_attn1_to_q.alpha': { shape: [], data: [0.5] },
      'lora_unet_not_a_module.lora_down.weight': { shape: [1, 3], data: [0, 0, 0] },
      'lora_unet_not_a_module.lora_up.weight': { shape: [2, 1], data: [0, 0] },
    });
    const { store, report } = applyLoras(base, [{ reader, strength: 2 }], { params, kohyaPrefixes: ['lora_unet'], diffusersPrefixes: ['unet.'] });
    // scale = 2 · 0.5/1 = 1; delta = up·down = [[1,2,3],[-1,-2,-3]]
    expect(Array.from(readF32(store.get('down_blocks.0.attn1.to_q.weight')!.bytes))).toEqual([1, 2, 3, -1, -2, -3]);
    expect(report.patched).toEqual(['down_blocks.0.attn1.to_q.weight']);
    expect(report.unmatched).toEqual([`${reader.path}: lora_unet_not_a_module`]);
    expect(store.fingerprint()).not.toBe(base.fingerprint());
  });

  it('merges a conv LoRA through an LDM alias, alpha absent → scale 1', async () => {
    const reader = await loraFile('ldm.safetensors', {
      'lora_unet_input_blocks_0_0.lora_down.weight': { shape: [1, 1, 2, 2], data: [1, 0, 0, 1] },
      'lora_unet_input_blocks_0_0.lora_up.weight': { shape: [2, 1, 1, 1], data: [3, 4] },
    });
    const aliases = (p: string) => (p.startsWith('conv_in.') ? [p.replace('conv_in', 'input_blocks.0.0')] : []);
    const { store } = applyLoras(base, [{ reader, strength: 1 }], { params, kohyaPrefixes: ['lora_unet'], diffusersPrefixes: [], aliases });
    expect(Array.from(readF32(store.get('conv_in.weight')!.bytes))).toEqual([3, 0, 0, 3, 4, 0, 0, 4]);
    expect(Array.from(readF32(store.get('conv_in.bias')!.bytes))).toEqual([0, 0]);
  });

  it('reads diffusers and PEFT key layouts and sums several files', async () => {
    const a = await loraFile('diffusers.safetensors', {
      'unet.down_blocks.0.attn1.processor.to_q_lora.down.weight': { shape: [1, 3], data: [1, 0, 0] },
      'unet.down_blocks.0.attn1.processor.to_q_lora.up.weight': { shape: [2, 1], data: [1, 1] },
    });
    const b = await loraFile('peft.safetensors', {
      'unet.down_blocks.0.attn1.to_q.lora_A.weight': { shape: [1, 3], data: [0, 0, 1] },
      'unet.down_blocks.0.attn1.to_q.lora_B.weight': { shape: [2, 1], data: [2, 0] },
    });
    const { store } = applyLoras(base, [{ reader: a, strength: 1 }, { reader: b, strength: 0.5 }], { params, kohyaPrefixes: [], diffusersPrefixes: ['unet.'] });
    expect(Array.from(readF32(store.get('down_blocks.0.attn1.to_q.weight')!.bytes))).toEqual([1, 0, 1, 1, 0, 0]);
  });

  it('rejects a LoRA whose shapes do not fit the weight', async () => {
    const reader = await loraFile('bad.safetensors', {
      'lora_unet_down_blocks_0_attn1_to_q.lora_down.weight': { shape: [1, 4], data: [1, 2, 3, 4] },
      'lora_unet_down_blocks_0_attn1_to_q.lora_up.weight': { shape: [2, 1], data: [1, 1] },
    });
    const { store } = applyLoras(base, [{ reader, strength: 1 }], { params, kohyaPrefixes: ['lora_unet'], diffusersPrefixes: [] });
    expect(() => store.get('down_blocks.0.attn1.to_q.weight')).toThrow(/gives 2×4, weight is \[2,3\]/);
  });
});
