// inkflow's own nodes in a workflow: flat colouring + palette lock on the bundled example, line-art
// extraction and segmentation, and their /object_info entries under inkflow/.
import { describe, expect, it } from 'vitest';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage } from '../imaging/image.ts';
import { tempWorkflowEnv } from '../../test/workflow/transcripts.ts';
import type { ApiPrompt, JobOutcome } from './api.ts';
import { createExecutor } from './executor.ts';
import { objectInfo } from './objectInfo.ts';
import { nodeRegistry } from './registry.ts';

const examples = join(import.meta.dirname, '../../examples');

describe('inkflow nodes', () => {
  const env = tempWorkflowEnv();
  copyFileSync(join(examples, 'character-sheet.png'), join(env.inputDir, 'sheet.png'));
  copyFileSync(join(examples, 'lineart.png'), join(env.inputDir, 'line.png'));
  const executor = createExecutor(env);
  const run = (prompt: ApiPrompt): Promise<JobOutcome> => executor.run({ promptId: 'x', prompt }, { signal: new AbortController().signal, emit: () => {} });
  const saved = async (out: JobOutcome, id: string) => {
    const [img] = out.outputs[id].images as { filename: string; subfolder: string }[];
    return decodeImage(readFileSync(join(env.outputDir, img.subfolder, img.filename)), 3);
  };

  it('flat colouring then palette lock: the flat layer holds only palette colours (or paper), the lock keeps the size', async () => {
    const out = await run({
      1: { class_type: 'LoadImage', inputs: { image: 'sheet.png' } },
      2: { class_type: 'LoadImage', inputs: { image: 'line.png' } },
      3: { class_type: 'InkflowFlatColorize', inputs: { reference: ['1', 0], lineart: ['2', 0] } },
      4: { class_type: 'InkflowPaletteLock', inputs: { image: ['3', 0], lineart: ['2', 0], reference: ['1', 0], keep_shading: false } },
      5: { class_type: 'SaveImage', inputs: { images: ['4', 0], filename_prefix: 'locked' } },
      6: { class_type: 'SaveImage', inputs: { images: ['3', 1], filename_prefix: 'flat' } },
    });
    expect(out.status).toBe('success');
    const settings = (out.outputs['3'].inkflow_settings as { method: string; palette: number[][] }[])[0];
    expect(settings.method).toBe('flat');
    const palette = new Set(settings.palette.map((c) => c.join(',')));
    expect(palette.size).toBeGreaterThan(1);
    const flat = await saved(out, '6');
    const allowed = new Set([...palette, '255,255,255']);
    let inPalette = 0;
    for (let i = 0; i < flat.data.length; i += 3) if (allowed.has(`${flat.data[i]},${flat.data[i + 1]},${flat.data[i + 2]}`)) inPalette++;
    expect(inPalette).toBe(flat.width * flat.height);
    const locked = await saved(out, '5');
    expect([locked.width, locked.height]).toEqual([flat.width, flat.height]);
  });

  it('line art (threshold, XDoG, Canny) and background segmentation give white-on-black lines and a foreground mask', async () => {
    for (const method of ['threshold', 'xdog', 'canny']) {
      const out = await run({
        1: { class_type: 'LoadImage', inputs: { image: 'sheet.png' } },
        2: { class_type: 'InkflowLineArt', inputs: { image: ['1', 0], method, low_threshold: 50, high_threshold: 150 } },
        3: { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: method } },
      });
      expect(out.status, method).toBe('success');
      const img = await saved(out, '3');
      let white = 0;
      for (let i = 0; i < img.data.length; i += 3) if (img.data[i] > 127) white++;
      // Lines are a minority of the pixels, and there are some.
      expect(white, method).toBeGreaterThan(0);
      expect(white / (img.width * img.height), method).toBeLessThan(0.5);
    }
    const seg = await run({
      1: { class_type: 'LoadImage', inputs: { image: 'line.png' } },
      2: { class_type: 'InkflowSegmentBackground', inputs: { image: ['1', 0], gap_close: 2 } },
      3: { class_type: 'MaskToImage', inputs: { mask: ['2', 1] } },
      4: { class_type: 'SaveImage', inputs: { images: ['3', 0], filename_prefix: 'fg' } },
    });
    expect(seg.status).toBe('success');
    const fg = await saved(seg, '4');
    let inside = 0;
    for (let i = 0; i < fg.data.length; i += 3) if (fg.data[i] === 255) inside++;
    expect(inside).toBeGreaterThan(0);
    expect(inside).toBeLessThan(fg.width * fg.height);
  });

  it('declares its own nodes under inkflow/, with object_info entries', () => {
    const info = objectInfo(env) as Record<string, { category: string; python_module: string }>;
    const own = [...nodeRegistry().keys()].filter((n) => n.startsWith('Inkflow'));
    expect(own.length).toBeGreaterThanOrEqual(7);
    for (const n of own) expect(info[n].category.startsWith('inkflow/'), n).toBe(true);
  });

  it("offers the flat colouriser's default matcher as the combo's default, as clients show it", () => {
    const info = objectInfo(env) as Record<string, { input: { optional: Record<string, unknown[]> } }>;
    const [choices, options] = info.InkflowFlatColorize.input.optional.matcher as [string[], { default: string }];
    expect(choices).toEqual(['hand', 'learned']);
    expect(options.default).toBe('learned');
  });
});
