import { describe, expect, it } from 'vitest';
import { characterLoras, composePrompt, detailBox, findFlatColouriser, flatColourPanel, inpaintPanel, modelColourPanel, panelPixels, panelSeed, sketchToPanel, textToPanel } from './panelWorkflows.ts';
import type { GenerateSettings } from './panelWorkflows.ts';
import { newCharacter, newPanel } from '../project/newDocument.ts';

const settings: GenerateSettings = { checkpoint: 'tiny.safetensors', positive: 'a cat', negative: 'blurry', width: 128, height: 64, seed: 5, steps: 3, cfg: 7, sampler: 'euler', scheduler: 'normal', loras: [], batch: 1 };

/** Every link points at an existing node: the graph is closed. */
function linksResolve(p: Record<string, { inputs: Record<string, unknown> }>) {
  for (const node of Object.values(p)) for (const v of Object.values(node.inputs)) if (Array.isArray(v)) expect(p[v[0] as string], `link to ${v[0]}`).toBeDefined();
}

describe('panel workflows', () => {
  it('adds the characters\' snippets, LoRAs and locked seed to a panel', () => {
    const mika = { ...newCharacter('Mika'), promptSnippet: 'girl, red scarf', lora: { name: 'mika.safetensors', strength: 0.7 }, seed: 1234 };
    const ren = { ...newCharacter('Ren'), promptSnippet: 'boy, glasses' };
    const panel = { ...newPanel({ x: 0, y: 0, w: 100, h: 50 }), prompt: 'two friends at a noodle stall', characterIds: [ren.id, mika.id] };
    expect(composePrompt(panel, [mika, ren])).toBe('two friends at a noodle stall, boy, glasses, girl, red scarf');
    expect(characterLoras(panel, [mika, ren])).toEqual([{ name: 'mika.safetensors', strength: 0.7 }]);
    expect(panelSeed(panel, [mika, ren], 9)).toBe(1234);
    expect(panelSeed({ ...panel, characterIds: [ren.id] }, [mika, ren], 9)).toBe(9);
  });

  it('sizes a panel by its aspect ratio in multiples of 8, the short side at least 64', () => {
    expect(panelPixels({ w: 190, h: 90 }, 512)).toEqual({ width: 512, height: 240 });
    expect(panelPixels({ w: 60, h: 120 }, 512)).toEqual({ width: 256, height: 512 });
    expect(panelPixels({ w: 190, h: 10 }, 512)).toEqual({ width: 1216, height: 64 });
    expect(panelPixels({ w: 190, h: 89.7 }, 64)).toEqual({ width: 136, height: 64 });
  });

  it('text → panel chains LoRAs between the checkpoint and the sampler', () => {
    const p = textToPanel({ ...settings, loras: [{ name: 'a.safetensors', strength: 0.5 }, { name: 'b.safetensors', strength: 1 }] });
    linksResolve(p);
    expect(p.lora1.inputs.model).toEqual(['lora0', 0]);
    expect(p.sample.inputs.model).toEqual(['lora1', 0]);
    expect(p.pos.inputs.clip).toEqual(['lora1', 1]);
    expect(p.save.class_type).toBe('SaveImage');
  });

  it('sketch → panel: one fidelity value sets ControlNet strength and end_percent', () => {
    const p = sketchToPanel(settings, { image: 'sketch.png', guide: 'scribble.safetensors', kind: 'controlnet', fidelity: 0.75 });
    linksResolve(p);
    expect(p.apply.class_type).toBe('ControlNetApplyAdvanced');
    expect(p.apply.inputs).toMatchObject({ strength: 0.75, start_percent: 0, end_percent: 0.75, image: ['invert', 0] });
    expect(p.sample.inputs.positive).toEqual(['apply', 0]);
    expect(p.sample.inputs.negative).toEqual(['apply', 1]);
  });

  it('sketch → panel with a T2I-Adapter: the fidelity sets the adapter scale and end_percent (inkflow adapter apply node)', () => {
    const p = sketchToPanel(settings, { image: 'sketch.png', guide: 'sketch_adapter', kind: 't2i-adapter', fidelity: 0.4 });
    linksResolve(p);
    expect(p.cn.inputs.control_net_name).toBe('sketch_adapter');
    expect(p.apply.class_type).toBe('InkflowT2IAdapterApply');
    expect(p.apply.inputs).toMatchObject({ adapter: ['cn', 0], scale: 0.4, start_percent: 0, end_percent: 0.4, image: ['invert', 0] });
    expect(p.sample.inputs.positive).toEqual(['apply', 0]);
  });

  it('finds the flat colouriser from /object_info and fills its other inputs with their defaults', () => {
    const info = {
      KSampler: { input: { required: { model: ['MODEL'] } }, category: 'sampling' },
      InkflowFlatColorize: {
        input: { required: { reference: ['IMAGE'], lineart: ['IMAGE'], close_gaps: ['INT', { default: 3, min: 0 }], mode: [['auto', 'strict']] } },
        category: 'inkflow/colour',
      },
    };
    const c = findFlatColouriser(info)!;
    expect(c).toEqual({ node: 'InkflowFlatColorize', lineartInput: 'lineart', referenceInput: 'reference', defaults: { close_gaps: 3, mode: 'auto' } });
    const p = flatColourPanel(c, 'line.png', 'sheet.png');
    linksResolve(p);
    expect(p.colour.inputs).toEqual({ close_gaps: 3, mode: 'auto', lineart: ['lineart', 0], reference: ['sheet', 0] });
    expect(findFlatColouriser({ KSampler: info.KSampler })).toBeNull();
  });
});

describe('inpaint and detailer workflows', () => {
  it('inpaint: the mask is LoadImage\'s alpha mask, grown by 32, and the batch makes the candidates', () => {
    const p = inpaintPanel({ ...settings, batch: 2 }, 'panel.png', 'mask.png');
    linksResolve(p);
    expect(p.encode.inputs).toMatchObject({ pixels: ['picture', 0], mask: ['mask', 1], grow_mask_by: 32 });
    expect(p.latent).toMatchObject({ class_type: 'RepeatLatentBatch', inputs: { amount: 2 } });
    expect(p.sample.inputs.latent_image).toEqual(['latent', 0]);
  });

  it('detailer: crops the box, repaints it enlarged at denoise 0.45 and pastes it back at the same place', () => {
    const p = detailBox({ ...settings, width: 512 }, 'panel.png', { x: 40.4, y: 10, width: 100, height: 50 });
    linksResolve(p);
    expect(p.crop.inputs).toMatchObject({ x: 40, y: 10, width: 100, height: 50 });
    expect(p.up.inputs).toMatchObject({ width: 512, height: 256 });
    expect(p.sample.inputs.denoise).toBe(0.45);
    expect(p.paste.inputs).toMatchObject({ destination: ['picture', 0], source: ['down', 0], x: 40, y: 10 });
    expect(p.save.inputs.images).toEqual(['paste', 0]);
  });
});

describe('model colouring workflow', () => {
  it('colours with the chosen model, and with the palette lock saves the locked picture and its shading apart', () => {
    const plain = modelColourPanel('line.png', 'sheet.png', { model: 'sdro', steps: 20, seed: 3, paletteLock: false, keepShading: false });
    linksResolve(plain);
    expect(plain.colour.inputs).toMatchObject({ model_name: 'sdro', steps: 20, seed: 3, reference: ['sheet', 0], lineart: ['lineart', 0] });
    expect(plain.save.inputs.images).toEqual(['colour', 0]);
    expect(plain.lock).toBeUndefined();

    const locked = modelColourPanel('line.png', 'sheet.png', { model: 'sdro', steps: 20, seed: 3, paletteLock: true, keepShading: true });
    linksResolve(locked);
    expect(locked.lock.inputs).toMatchObject({ image: ['colour', 0], keep_shading: true });
    expect(locked.save.inputs.images).toEqual(['lock', 0]);
    expect(locked.saveShading.inputs.images).toEqual(['lock', 1]);
  });
});
