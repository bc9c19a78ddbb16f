// Conditioning nodes' declarations and values, as ComfyUI's nodes.py has them: ConditioningSetArea stores the
// area in latent units (pixels // 8) with its strength on every prompt of a combined conditioning.
import { describe, expect, it } from 'vitest';
import type { Conditioning } from '../pipelines/generate/ksample.ts';
import { combineConditioning } from '../pipelines/generate/ksample.ts';
import { ConditioningSetArea, ControlNetApplyAdvanced } from './nodes/generationNodes.ts';
import type { NodeContext } from './nodeSpec.ts';

const prompt = (k: number): Conditioning => ({ text: { tokens: 77, hidden: 1, data: new Float32Array(77).fill(k) } as unknown as Conditioning['text'], controls: [], adapters: [] });

describe('ConditioningSetArea', () => {
  it('stores ComfyUI\'s area (pixels // 8) and strength on every combined prompt', async () => {
    const both = combineConditioning(prompt(1), prompt(2));
    const out = (await ConditioningSetArea.run({ conditioning: both, width: 100, height: 64, x: 15, y: 72, strength: 0.5 }, {} as NodeContext)).outputs[0] as Conditioning;
    expect(out.area).toEqual({ height: 8, width: 12, y: 9, x: 1 });
    expect(out.strength).toBe(0.5);
    expect(out.others?.map((o) => [o.area, o.strength])).toEqual([[{ height: 8, width: 12, y: 9, x: 1 }, 0.5]]);
  });

  it('declares ComfyUI\'s inputs: width/height 64–16384 step 8, x/y 0–16384 step 8, strength 0–10 step 0.01', () => {
    expect(Object.keys(ConditioningSetArea.required)).toEqual(['conditioning', 'width', 'height', 'x', 'y', 'strength']);
    expect(ConditioningSetArea.required.width).toMatchObject({ type: 'INT', default: 64, min: 64, max: 16384, step: 8 });
    expect(ConditioningSetArea.required.height).toMatchObject({ type: 'INT', default: 64, min: 64, max: 16384, step: 8 });
    expect(ConditioningSetArea.required.x).toMatchObject({ type: 'INT', default: 0, min: 0, max: 16384, step: 8 });
    expect(ConditioningSetArea.required.y).toMatchObject({ type: 'INT', default: 0, min: 0, max: 16384, step: 8 });
    expect(ConditioningSetArea.required.strength).toMatchObject({ type: 'FLOAT', default: 1, min: 0, max: 10, step: 0.01 });
    expect([ConditioningSetArea.category, ConditioningSetArea.displayName]).toEqual(['conditioning', 'Conditioning (Set Area)']);
  });
});

describe('ControlNetApplyAdvanced with a T2I-Adapter', () => {
  const image = { batch: 1, height: 2, width: 2, channels: 3, data: new Float32Array(12) };
  const apply = async (start: number, end: number) => {
    const out = await ControlNetApplyAdvanced.run({ positive: prompt(1), negative: prompt(2), control_net: { kind: 't2i-adapter', path: '/a' }, image, strength: 0.8, start_percent: start, end_percent: end }, {} as NodeContext);
    return out.outputs as Conditioning[];
  };
  it('carries start / end percent to both sides; the full range is plain (every step)', async () => {
    const [p, n] = await apply(0.2, 0.7);
    expect(p.adapters[0]).toMatchObject({ path: '/a', scale: 0.8, startPercent: 0.2, endPercent: 0.7 });
    expect(n.adapters[0]).toMatchObject({ startPercent: 0.2, endPercent: 0.7 });
    const [full] = await apply(0, 1);
    expect(full.adapters[0].startPercent).toBeUndefined();
    expect(full.adapters[0].endPercent).toBeUndefined();
  });
});
