// The two ways `inkflow colorize` runs once its options are checked: pictures as a small workflow
// (LoadImage → InkflowFlatColorize / InkflowReferenceColorize → [InkflowPaletteLock] → SaveImage) through
// the executor the server uses, in a throwaway data folder; ColorizeDiffusion .npy tensors (not ComfyUI
// IMAGE/MASK values: used as is, at float precision) straight through colorizeWithModel, the same function
// the node calls. Both return PNG bytes in output order: result, flat layer, uncertain mask, shading layer.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { decodeImage, encodePng, type Image } from '../../imaging/image.ts';
import { readImageBytes } from '../../imaging/limits.ts';
import { decodeLineArt } from '../../imaging/lineArtInput.ts';
import type { ColorizeMode } from '../../models/splitAttention/modes.ts';
import type { PredictionKind } from '../../pipelines/colorize/colorizeDiffusionCheckpoint.ts';
import { readColorizeImage, readColorizeMask } from '../../pipelines/colorize/colorizeDiffusionInputs.ts';
import { colorizeWithModel, type FlatMatcher } from '../../pipelines/colorize/colorizeLineArt.ts';
import type { ApiPrompt } from '../../workflow/api.ts';
import { dataFolderEnv } from '../../workflow/dataFolder.ts';
import { randomSeed } from '../../workflow/nodes/inkflowNodes.ts';
import { progressBar } from '../progress.ts';
import { runCliWorkflow } from '../runWorkflow.ts';

export interface ColorizeRun {
  reference: string;
  lineart: string;
  flat: boolean;
  model?: string;
  colorizeDiffusion: boolean;
  device: 'cpu' | 'cuda';
  steps: number;
  seed?: bigint;
  mode: ColorizeMode;
  refGuidance: number;
  sketchGuidance: number;
  prediction?: PredictionKind;
  referenceEncoder?: string;
  sketchMask?: string;
  referenceMask?: string;
  referenceStrength?: number | number[];
  segment: boolean;
  paletteLock: boolean;
  keepShading: boolean;
  uncertain: boolean;
  /** --flat, single frame: which matcher (absent: the node's default). */
  matcher?: FlatMatcher;
  /** SDRO fast modes (absent = exact fp32, every step full). */
  precision?: 'int8';
  cacheSteps?: number;
}

export interface ColorizeDone {
  pngs: Buffer[];
  width: number;
  height: number;
  settings: Record<string, unknown>;
  warnings: string[];
}

/** ColorizeDiffusion with .npy inputs: the colouring function itself (no palette lock, no side files). */
export async function colorizeTensors(r: ColorizeRun): Promise<ColorizeDone> {
  const bar = progressBar(`colouring (${r.mode})`, r.steps);
  const out = await colorizeWithModel({
    model: r.model!, device: r.device, steps: r.steps, seed: r.seed, mode: r.mode,
    referenceGuidance: r.refGuidance, sketchGuidance: r.sketchGuidance, prediction: r.prediction, referenceEncoder: r.referenceEncoder,
    reference: await readColorizeImage(r.reference, 'reference'),
    lineArt: await readColorizeImage(r.lineart, 'line art'),
    sketchMask: r.sketchMask === undefined ? undefined : await readColorizeMask(r.sketchMask, 'sketch mask'),
    referenceMask: r.referenceMask === undefined ? undefined : await readColorizeMask(r.referenceMask, 'reference mask'),
    referenceStrength: r.referenceStrength,
    precision: r.precision, cacheSteps: r.cacheSteps,
    onStep: (step) => bar.update(step),
  });
  bar.done();
  return { pngs: [await encodePng(out.image)], width: out.image.width, height: out.image.height, settings: out.settings, warnings: out.warnings };
}

/**
 * The pictures as the pipeline reads them — checked for byte and pixel limits and blank line art before
 * anything runs — and saved losslessly for LoadImage: the flat path keeps alpha (LoadImage's MASK),
 * SDRO line art is flattened on white paper, ColorizeDiffusion reads RGB.
 */
async function readPictures(r: ColorizeRun): Promise<{ reference: Image; lineArt: Image; sketchMask?: Image; referenceMask?: Image }> {
  if (r.colorizeDiffusion) {
    const picture = async (path: string) => decodeImage(readImageBytes(path), 3, path);
    return {
      reference: (await readColorizeImage(r.reference, 'reference')) as Image,
      lineArt: (await readColorizeImage(r.lineart, 'line art')) as Image,
      sketchMask: r.sketchMask === undefined ? undefined : await picture(r.sketchMask),
      referenceMask: r.referenceMask === undefined ? undefined : await picture(r.referenceMask),
    };
  }
  return {
    reference: await decodeImage(readImageBytes(r.reference), r.flat ? 4 : 3, r.reference),
    lineArt: await decodeLineArt(readImageBytes(r.lineart), r.lineart, undefined, { keepAlpha: r.flat }),
  };
}

/** The API workflow equivalent to a picture run (input files named reference.png, lineart.png, …). */
export function colorizeWorkflow(r: ColorizeRun, files: { model?: string; referenceEncoder?: string; seed: bigint }): ApiPrompt {
  const prompt: ApiPrompt = {
    1: { class_type: 'LoadImage', inputs: { image: 'reference.png' } },
    2: { class_type: 'LoadImage', inputs: { image: 'lineart.png' } },
  };
  if (r.flat) {
    prompt[3] = { class_type: 'InkflowFlatColorize', inputs: { reference: ['1', 0], lineart: ['2', 0], reference_mask: ['1', 1], lineart_mask: ['2', 1], ...(r.matcher ? { matcher: r.matcher } : {}) } };
    prompt[12] = { class_type: 'SaveImage', inputs: { images: ['3', 1], filename_prefix: 'flat' } };
    if (r.uncertain) prompt[13] = { class_type: 'SaveImage', inputs: { images: ['3', 2], filename_prefix: 'uncertain' } };
  } else {
    const seed = files.seed <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(files.seed) : files.seed;
    const inputs: Record<string, unknown> = { reference: ['1', 0], lineart: ['2', 0], model_name: files.model, steps: r.steps, seed };
    if (r.colorizeDiffusion) {
      Object.assign(inputs, { mode: r.mode, ref_guidance: r.refGuidance, sketch_guidance: r.sketchGuidance });
      if (r.prediction !== undefined) inputs.prediction = r.prediction === 'epsilon' ? 'eps' : 'v';
      if (files.referenceEncoder !== undefined) inputs.reference_encoder = files.referenceEncoder;
      if (r.sketchMask !== undefined) {
        prompt[5] = { class_type: 'LoadImageMask', inputs: { image: 'sketch-mask.png', channel: 'red' } };
        inputs.sketch_mask = ['5', 0];
      }
      if (r.referenceMask !== undefined) {
        prompt[6] = { class_type: 'LoadImageMask', inputs: { image: 'reference-mask.png', channel: 'red' } };
        inputs.reference_mask = ['6', 0];
      }
      if (typeof r.referenceStrength === 'number') inputs.reference_strength = r.referenceStrength;
      else if (r.referenceStrength) inputs.block_strengths = r.referenceStrength.join(',');
    } else {
      inputs.segment = r.segment;
      if (r.precision) inputs.precision = r.precision;
      if (r.cacheSteps) inputs.cache_steps = r.cacheSteps;
    }
    prompt[3] = { class_type: 'InkflowReferenceColorize', inputs };
  }
  let result: [string, number] = ['3', 0];
  if (r.paletteLock) {
    const masks = r.flat ? { lineart_mask: ['2', 1], reference_mask: ['1', 1] } : {};
    prompt[4] = { class_type: 'InkflowPaletteLock', inputs: { image: result, lineart: ['2', 0], reference: ['1', 0], keep_shading: r.keepShading, ...masks } };
    result = ['4', 0];
    if (r.keepShading) prompt[14] = { class_type: 'SaveImage', inputs: { images: ['4', 1], filename_prefix: 'shading' } };
  }
  prompt[11] = { class_type: 'SaveImage', inputs: { images: result, filename_prefix: 'colored' } };
  return prompt;
}

/** Pictures: the workflow, run by the server's executor in a throwaway data folder. */
export async function colorizeAsWorkflow(r: ColorizeRun): Promise<ColorizeDone | 'interrupted'> {
  const pictures = await readPictures(r);
  const work = mkdtempSync(join(tmpdir(), 'inkflow-colorize-'));
  try {
    const env = dataFolderEnv(work, { device: r.device });
    const save = async (name: string, img: Image | undefined) => img && writeFileSync(join(env.inputDir, name), await encodePng(img));
    await save('reference.png', pictures.reference);
    await save('lineart.png', pictures.lineArt);
    await save('sketch-mask.png', pictures.sketchMask);
    await save('reference-mask.png', pictures.referenceMask);
    let model: string | undefined;
    let referenceEncoder: string | undefined;
    if (r.model !== undefined) {
      env.modelDirs.colorize.push(dirname(resolve(r.model)));
      model = basename(resolve(r.model));
    }
    if (r.referenceEncoder !== undefined) {
      env.modelDirs.clip_vision.push(dirname(resolve(r.referenceEncoder)));
      referenceEncoder = basename(resolve(r.referenceEncoder));
    }
    const prompt = colorizeWorkflow(r, { model, referenceEncoder, seed: r.seed ?? BigInt(randomSeed()) });
    const run = await runCliWorkflow(prompt, env, { label: 'colorize', quietNodes: true });
    if (run.status === 'interrupted') return 'interrupted';
    const settings: Record<string, unknown> = {};
    const warnings: string[] = [];
    for (const id of ['3', '4']) {
      const ui = run.outputs[id]?.ui;
      Object.assign(settings, ...((ui?.inkflow_settings as Record<string, unknown>[] | undefined) ?? []));
      warnings.push(...((ui?.inkflow_warnings as string[] | undefined) ?? []));
    }
    const saved = ['11', '12', '13', '14'].filter((id) => prompt[id]).map((id) => run.outputs[id].files[0]);
    const pngs = saved.map((f) => readImageBytes(f));
    const first = await decodeImage(pngs[0], 3);
    return { pngs, width: first.width, height: first.height, settings, warnings };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
