// `inkflow colorize` is a thin command: its output equals the equivalent API workflow (written out here by
// hand, as a ComfyUI user would build it) run through the server's executor — pixel for pixel, for the
// flat path with alpha (a transparent sheet and a line layer on transparency, --uncertain, palette lock
// with the shading layer) and for ColorizeDiffusion with picture masks and a reference strength.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { colorizeCommand } from '../../src/cli/commands/colorize.ts';
import { convertChannels, createImage, decodeImage, encodePng, readPngText, type Image } from '../../src/imaging/image.ts';
import { maskFromImage } from '../../src/imaging/masks.ts';
import { attentionPaths } from '../../src/models/splitAttention/colorizeModel.ts';
import { inferLdmUNetConfig } from '../../src/models/unet/ldmConfig.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { writeTinyColorizeCheckpoint } from '../../src/models/splitAttention/tinyColorizeCheckpoint.ts';
import { colorizeWithModel } from '../../src/pipelines/colorize/colorizeLineArt.ts';
import { flatColorize } from '../../src/pipelines/flat/colorize.ts';
import { shippedLearnedMatching } from '../../src/pipelines/flat/learnedBackground.ts';
import type { ApiPrompt, JobOutcome } from '../../src/workflow/api.ts';
import { dataFolderEnv } from '../../src/workflow/dataFolder.ts';
import { createExecutor } from '../../src/workflow/executor.ts';

const examples = join(import.meta.dirname, '../../examples');
const work = mkdtempSync(join(tmpdir(), 'inkflow-colorize-wf-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function runWorkflow(prompt: ApiPrompt, files: Record<string, string>, colorizeDir?: string): Promise<{ out: JobOutcome; saved: (id: string) => Promise<Image> }> {
  const dir = mkdtempSync(join(work, 'data-'));
  const env = dataFolderEnv(dir);
  if (colorizeDir) env.modelDirs.colorize.push(colorizeDir);
  for (const [name, path] of Object.entries(files)) copyFileSync(path, join(env.inputDir, name));
  const out = await createExecutor(env).run({ promptId: 't', prompt }, { signal: new AbortController().signal, emit: () => {} });
  expect(out.status, JSON.stringify(out)).toBe('success');
  const saved = async (id: string) => {
    const [img] = out.outputs[id].images as { filename: string; subfolder: string }[];
    return decodeImage(readFileSync(join(env.outputDir, img.subfolder, img.filename)), 3);
  };
  return { out, saved };
}

const pixels = async (path: string) => decodeImage(readFileSync(path), 3);

function samePixels(a: Image, b: Image, what: string): void {
  expect([a.width, a.height, a.channels], what).toEqual([b.width, b.height, b.channels]);
  expect(Buffer.compare(Buffer.from(a.data), Buffer.from(b.data)), what).toBe(0);
}

describe('inkflow colorize = its API workflow through the executor', () => {
  it('flat, with alpha, --uncertain, --palette-lock --keep-shading: every file equals the workflow output', async () => {
    // A transparent sheet (near-white background → alpha 0, RGB 0) and the line art as a line layer on
    // transparency (dark pixels opaque, the paper transparent): the flat pipeline reads both alphas.
    const sheet = await decodeImage(readFileSync(join(examples, 'character-sheet.png')), 4);
    for (let i = 0; i < sheet.data.length; i += 4) if (sheet.data[i] > 240 && sheet.data[i + 1] > 240 && sheet.data[i + 2] > 240) sheet.data.set([0, 0, 0, 0], i);
    const line = await decodeImage(readFileSync(join(examples, 'lineart.png')), 4);
    for (let i = 0; i < line.data.length; i += 4) if (line.data[i] > 128) line.data.set([0, 0, 0, 0], i);
    const ref = join(work, 'sheet-rgba.png');
    const art = join(work, 'line-layer.png');
    writeFileSync(ref, await encodePng(sheet));
    writeFileSync(art, await encodePng(line));
    const o = join(work, 'flat', 'out.png');
    mkdirSync(join(work, 'flat'));
    const spy = vi.spyOn(console, 'error');
    let printed: string[];
    try {
      expect(await colorizeCommand.run(['--flat', '--uncertain', '--palette-lock', '--keep-shading', '--reference', ref, '--lineart', art, '-o', o])).toBe(0);
    } finally {
      printed = spy.mock.calls.map((c) => String(c[0]));
      spy.mockRestore();
    }

    const { out, saved } = await runWorkflow({
      1: { class_type: 'LoadImage', inputs: { image: 'sheet.png' } },
      2: { class_type: 'LoadImage', inputs: { image: 'line.png' } },
      3: { class_type: 'InkflowFlatColorize', inputs: { reference: ['1', 0], lineart: ['2', 0], reference_mask: ['1', 1], lineart_mask: ['2', 1] } },
      4: { class_type: 'InkflowPaletteLock', inputs: { image: ['3', 0], lineart: ['2', 0], reference: ['1', 0], keep_shading: true, lineart_mask: ['2', 1], reference_mask: ['1', 1] } },
      5: { class_type: 'SaveImage', inputs: { images: ['4', 0], filename_prefix: 'colored' } },
      6: { class_type: 'SaveImage', inputs: { images: ['3', 1], filename_prefix: 'flat' } },
      7: { class_type: 'SaveImage', inputs: { images: ['3', 2], filename_prefix: 'uncertain' } },
      8: { class_type: 'SaveImage', inputs: { images: ['4', 1], filename_prefix: 'shading' } },
    }, { 'sheet.png': ref, 'line.png': art });
    // The node's warnings are the ones the command prints (the bundled example colours cleanly, so there may
    // be none here; test/cli/colorize.test.ts checks a non-empty warning on tiny line art).
    const warnings = out.outputs['3'].inkflow_warnings as string[];
    expect(Array.isArray(warnings)).toBe(true);
    expect(printed).toEqual(warnings.map((w) => `warning: ${w}`));
    samePixels(await pixels(o), await saved('5'), 'result');
    samePixels(await pixels(join(work, 'flat', 'out-flat.png')), await saved('6'), 'flat layer');
    samePixels(await pixels(join(work, 'flat', 'out-uncertain.png')), await saved('7'), 'uncertain mask');
    samePixels(await pixels(join(work, 'flat', 'out-shading.png')), await saved('8'), 'shading layer');

    // The alpha reached the pipeline: the flat layer is the pipeline's own on the RGBA pictures (dropping
    // the alpha would leave a line layer with no lines: its transparent paper is RGB black).
    expect(() => flatColorize({ reference: convertChannels(sheet, 3), lineArt: convertChannels(line, 3) })).toThrow(/no lines/);
    // The command and the node colour with the default matcher (learned): the pipeline with the shipped models.
    const direct = flatColorize({ reference: sheet, lineArt: line, options: { match: shippedLearnedMatching() } });
    samePixels(await pixels(join(work, 'flat', 'out-flat.png')), await decodeImage(await encodePng(direct.flat), 3), 'flat layer vs the pipeline on RGBA');
    const settings = JSON.parse(readPngText(readFileSync(o)).inkflow);
    expect(settings.method).toBe('flat');
    expect(settings.matcher).toBe('learned');
    expect(settings.palette).toEqual((out.outputs['3'].inkflow_settings as { palette: unknown }[])[0].palette);
    expect(settings.paletteLock.keepShading).toBe(true);
  }, 60_000);

  it('ColorizeDiffusion with picture masks and --reference-strength: the CLI equals the workflow and the direct call', async () => {
    const modelDir = join(work, 'models');
    mkdirSync(modelDir);
    const model = await writeTinyColorizeCheckpoint(join(modelDir, 'tiny-cd.safetensors'));
    const ref = createImage(48, 40, 3, 255);
    for (let i = 0; i < 48 * 40; i++) if ((i % 48) > 12 && (i % 48) < 36) ref.data.set([200, 40, 30], i * 3);
    const line = createImage(48, 40, 3, 255);
    for (let x = 10; x < 40; x++) for (const y of [8, 30]) line.data.set([0, 0, 0], (y * 48 + x) * 3);
    for (let y = 8; y <= 30; y++) for (const x of [10, 39]) line.data.set([0, 0, 0], (y * 48 + x) * 3);
    // Masks unlike the border flood fill's: the left half of each picture.
    const half = createImage(48, 40, 3, 0);
    for (let i = 0; i < 48 * 40; i++) if (i % 48 < 24) half.data.set([255, 255, 255], i * 3);
    const paths = { ref: join(work, 'cd-ref.png'), line: join(work, 'cd-line.png'), mask: join(work, 'cd-mask.png') };
    writeFileSync(paths.ref, await encodePng(ref));
    writeFileSync(paths.line, await encodePng(line));
    writeFileSync(paths.mask, await encodePng(half));
    const o = join(work, 'cd.png');
    expect(await colorizeCommand.run([
      '--model', model, '--mode', 'fig2fig', '--reference', paths.ref, '--lineart', paths.line, '--sketch-mask', paths.mask, '--reference-mask', paths.mask,
      '--reference-strength', '0.6', '--steps', '2', '--seed', '5', '-o', o,
    ])).toBe(0);

    const { saved } = await runWorkflow({
      1: { class_type: 'LoadImage', inputs: { image: 'ref.png' } },
      2: { class_type: 'LoadImage', inputs: { image: 'line.png' } },
      5: { class_type: 'LoadImageMask', inputs: { image: 'mask.png', channel: 'red' } },
      3: {
        class_type: 'InkflowReferenceColorize',
        inputs: { reference: ['1', 0], lineart: ['2', 0], model_name: 'tiny-cd.safetensors', steps: 2, seed: 5, mode: 'fig2fig', sketch_mask: ['5', 0], reference_mask: ['5', 0], reference_strength: 0.6 },
      },
      9: { class_type: 'SaveImage', inputs: { images: ['3', 0], filename_prefix: 'cd' } },
    }, { 'ref.png': paths.ref, 'line.png': paths.line, 'mask.png': paths.mask }, modelDir);
    const cli = await pixels(o);
    samePixels(cli, await saved('9'), 'CLI vs workflow');

    const mask = maskFromImage(half);
    const direct = await colorizeWithModel({ reference: ref, lineArt: line, model, steps: 2, seed: 5n, mode: 'fig2fig', sketchMask: mask, referenceMask: mask, referenceStrength: 0.6 });
    samePixels(cli, direct.image, 'CLI vs colorizeWithModel');
    // …and the masks and the strength were used: without them the picture differs.
    const plain = await colorizeWithModel({ reference: ref, lineArt: line, model, steps: 2, seed: 5n, mode: 'fig2fig' });
    expect(Buffer.compare(Buffer.from(cli.data), Buffer.from(plain.image.data))).not.toBe(0);
    expect(JSON.parse(readPngText(readFileSync(o)).inkflow)).toMatchObject({ method: 'colorize-diffusion', mode: 'fig2fig', steps: 2, seed: '5', referenceStrength: 0.6 });

    // One strength per cross-attention: the CLI's list reaches the node as block_strengths.
    const reader = openSafetensors(model);
    const blocks = attentionPaths(inferLdmUNetConfig(reader)).length;
    reader.close();
    const strengths = Array.from({ length: blocks }, (_, i) => (i % 3) * 0.5);
    const o2 = join(work, 'cd-blocks.png');
    expect(await colorizeCommand.run(['--model', model, '--reference', paths.ref, '--lineart', paths.line, '--reference-strength', strengths.join(','), '--steps', '2', '--seed', '5', '-o', o2])).toBe(0);
    const blockRun = await colorizeWithModel({ reference: ref, lineArt: line, model, steps: 2, seed: 5n, referenceStrength: strengths });
    samePixels(await pixels(o2), blockRun.image, 'per-block strengths: CLI vs colorizeWithModel');
    const uniform = await colorizeWithModel({ reference: ref, lineArt: line, model, steps: 2, seed: 5n });
    expect(Buffer.compare(Buffer.from(blockRun.image.data), Buffer.from(uniform.image.data))).not.toBe(0);
    expect(JSON.parse(readPngText(readFileSync(o2)).inkflow).referenceStrength).toEqual(strengths);
  }, 120_000);
});
