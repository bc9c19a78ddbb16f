// `inkflow colorize`: colour line art from a reference sheet, either with the model-free paint bucket
// (--flat), with a Stable Diffusion Reference Only model folder (--model DIR) or with a ColorizeDiffusion
// single file (--model FILE.safetensors, told apart by its sketch-encoder / split-LoRA keys; --mode picks
// vanilla, bg2fig or fig2fig). --palette-lock snaps the result to the reference's exact colours. Every
// setting is embedded in the output PNG as tEXt.
import { statSync } from 'node:fs';
import { extname } from 'node:path';
import { type Image, decodeImage, encodePng } from '../../imaging/image.ts';
import { extractPalette } from '../../imaging/palette.ts';
import { resizeImage } from '../../imaging/resize.ts';
import { flatColorize } from '../../pipelines/flat/colorize.ts';
import { paletteLock } from '../../pipelines/flat/paletteLock.ts';
import { isFramePattern, runFlatSequence } from './colorizeFlatSequence.ts';
import { loadSdroPipeline } from '../../pipelines/colorize/sdro.ts';
import { prepareBlueprint } from '../../pipelines/colorize/blueprint.ts';
import { assertColorizeDiffusionFile, isColorizeDiffusionFile, loadColorizeDiffusion, type PredictionKind } from '../../pipelines/colorize/colorizeDiffusionCheckpoint.ts';
import { colorizeDiffusion } from '../../pipelines/colorize/colorizeDiffusionPipeline.ts';
import { readColorizeImage, readColorizeMask } from '../../pipelines/colorize/colorizeDiffusionInputs.ts';
import { COLORIZE_DIFFUSION_DEFAULTS } from '../../pipelines/colorize/colorizeDiffusion.ts';
import { COLORIZE_MODES, parseColorizeMode } from '../../models/splitAttention/modes.ts';
import { type Command, UsageError } from '../command.ts';
import { progressBar } from '../progress.ts';
import { parseOptions, parseSeed } from '../options.ts';
import { planOutputs, writeOutputs } from '../outputPlan.ts';
import { readImageBytes } from '../../imaging/limits.ts';
import { decodeLineArt } from '../../imaging/lineArtInput.ts';

const HELP = `usage: inkflow colorize --reference REF.png --lineart LINE.png (--flat | --model PATH) [options]

Colours line art from a character reference sheet.

options:
  --reference FILE    the character sheet / reference image (ColorizeDiffusion: or a .npy tensor in [-1,1])
  --lineart FILE      the line art (dark lines on light paper, or white on black: detected; ColorizeDiffusion:
                      or a .npy sketch tensor in [-1,1], white lines on black, used as is); with
                      --flat also a line layer on transparency, or a pattern such as 'frames/*.png':
                      a sequence, each frame coloured from the previous one (frame 0 from the
                      reference: a coloured first frame of the same size, or a character sheet),
                      written as <output stem>-<frame name>.png (+ -flat.png)
  --uncertain         with --flat: also write <name>-uncertain.png, a mask of the regions whose
                      colour is uncertain (check those)
  --flat              model-free paint-bucket colouring: line-art regions are matched to the
                      reference's flat colour regions and filled with exact palette colours
  --model PATH        a Stable Diffusion Reference Only model folder (diffusers layout:
                      model_index.json, unet/, vae/, image_encoder/, scheduler/, clip_image_processor/),
                      or a ColorizeDiffusion single .safetensors file (UNet, sketch encoder, LoRAs,
                      VAE, OpenCLIP ViT-H/14 reference encoder)
  --mode M            ColorizeDiffusion only, the original demo's check boxes: vanilla (default),
                      fg_enhance (= bg2fig: foreground LoRA, sketch mask split), bg_enhance (background
                      LoRA, background tokens from the masked reference) or fig2fig (both)
  --sketch-mask FILE  ColorizeDiffusion only: the line art's foreground mask (picture or .npy in [0,1]);
                      default: found by a border flood fill
  --reference-mask FILE  ColorizeDiffusion only: the reference's foreground mask (as --sketch-mask)
  --reference-strength S  ColorizeDiffusion only: reference strength of every cross-attention, or 16
                      comma-separated values, one per cross-attention in the original's order (default 1)
  --ref-guidance S    ColorizeDiffusion only: reference guidance scale (default 4)
  --sketch-guidance S ColorizeDiffusion only: sketch guidance scale (default 1: no sketch CFG)
  --reference-encoder FILE  ColorizeDiffusion only: an open_clip ViT-H-14 .safetensors, for
                      checkpoints saved without their cond stage
  --prediction eps|v  ColorizeDiffusion only: override the prediction type (default: as the
                      original demo, "eps" in the file name means ε, otherwise v)
  --steps N           denoising steps with --model (default 20)
  --seed N            seed with --model (default: random; printed and stored in the PNG)
  --segment           with --model: clear the line art's background (border flood fill) first
  --palette-lock      snap every line-art region of the result to the reference's nearest palette colour
  --keep-shading      with --palette-lock: also write the shading layer as <name>-shading.png
  --device cpu|cuda   execution provider for --model (default cpu)
  -o, --output FILE   output PNG (default colored.png); --flat also writes <name>-flat.png
  --overwrite         replace existing output files (never an input file)
  -h, --help          this help`;

export const colorizeCommand: Command = {
  name: 'colorize',
  summary: 'colour line art from a reference sheet (--flat paint bucket, an SDRO folder or a ColorizeDiffusion file)',
  help: HELP,
  async run(argv) {
    const { values: v } = parseOptions('colorize', argv, {
      reference: { type: 'string' },
      lineart: { type: 'string' },
      flat: { type: 'boolean', default: false },
      model: { type: 'string' },
      mode: { type: 'string' },
      'ref-guidance': { type: 'string' },
      'sketch-guidance': { type: 'string' },
      'reference-encoder': { type: 'string' },
      prediction: { type: 'string' },
      'sketch-mask': { type: 'string' },
      'reference-mask': { type: 'string' },
      'reference-strength': { type: 'string' },
      steps: { type: 'string', default: '20' },
      seed: { type: 'string' },
      segment: { type: 'boolean', default: false },
      'palette-lock': { type: 'boolean', default: false },
      'keep-shading': { type: 'boolean', default: false },
      uncertain: { type: 'boolean', default: false },
      device: { type: 'string', default: 'cpu' },
      output: { type: 'string', short: 'o', default: 'colored.png' },
      overwrite: { type: 'boolean', default: false },
    });
    if (!v.reference) throw new UsageError('--reference is required');
    if (!v.lineart) throw new UsageError('--lineart is required');
    if (v.flat === Boolean(v.model)) throw new UsageError('choose exactly one of --flat and --model DIR');
    if (v.device !== 'cpu' && v.device !== 'cuda') throw new UsageError(`--device must be cpu or cuda, got ${v.device}`);
    const steps = parseInteger('--steps', v.steps!, 1, 1000);
    const seed = v.seed === undefined ? undefined : parseSeed(v.seed);
    const output = v.output!;
    if (extname(output).toLowerCase() !== '.png') throw new UsageError(`output must be a .png file, got ${output}`);
    if (v.model !== undefined && !exists(v.model)) throw new UsageError(`--model ${v.model} does not exist`);
    const cdOnly = (['mode', 'ref-guidance', 'sketch-guidance', 'reference-encoder', 'prediction', 'sketch-mask', 'reference-mask', 'reference-strength'] as const).filter((k) => v[k] !== undefined);
    const colorizeDiffusionModel = v.model !== undefined && isFile(v.model);
    if (colorizeDiffusionModel && !isColorizeDiffusionFile(v.model!)) {
      assertColorizeDiffusionFile(v.model!); // a pickle, a truncated or corrupt file: says which
      throw new UsageError(`--model ${v.model} is a file but not a ColorizeDiffusion checkpoint (a .safetensors with control_encoder.* or split-attention LoRA keys); for SDRO give the model folder`);
    }
    if (cdOnly.length && !colorizeDiffusionModel) {
      throw new UsageError(`${cdOnly.map((k) => `--${k}`).join(', ')} ${cdOnly.length > 1 ? 'apply' : 'applies'} to ColorizeDiffusion checkpoints (--model FILE.safetensors) only${v.model ? `; ${v.model} is an SDRO model folder` : ''}`);
    }
    if (colorizeDiffusionModel && v.segment) throw new UsageError('--segment applies to SDRO models; ColorizeDiffusion makes its own sketch and reference masks');
    let mode: ReturnType<typeof parseColorizeMode> = 'vanilla';
    try {
      if (v.mode !== undefined) mode = parseColorizeMode(v.mode);
    } catch {
      throw new UsageError(`--mode must be one of ${COLORIZE_MODES.join(', ')}, got ${v.mode}`);
    }
    const refGuidance = v['ref-guidance'] === undefined ? COLORIZE_DIFFUSION_DEFAULTS.referenceGuidance : parseScale('--ref-guidance', v['ref-guidance']);
    const sketchGuidance = v['sketch-guidance'] === undefined ? COLORIZE_DIFFUSION_DEFAULTS.sketchGuidance : parseScale('--sketch-guidance', v['sketch-guidance']);
    const predictions: Record<string, PredictionKind> = { eps: 'epsilon', epsilon: 'epsilon', v: 'v_prediction', v_prediction: 'v_prediction' };
    if (v.prediction !== undefined && !predictions[v.prediction]) throw new UsageError(`--prediction must be eps or v, got ${v.prediction}`);

    if (v.flat && isFramePattern(v.lineart)) {
      const t0 = performance.now();
      const written = await runFlatSequence({ reference: v.reference, pattern: v.lineart, output, uncertain: v.uncertain! });
      console.log(`coloured ${written.length} file(s) in ${(performance.now() - t0).toFixed(0)} ms → ${written.join(', ')}`);
      return 0;
    }
    // Before any work: no output may be an input (side files included), --overwrite to replace, folder writable.
    const sideFlat = output.replace(/\.png$/i, '-flat.png');
    const sideShading = output.replace(/\.png$/i, '-shading.png');
    const sideUncertain = output.replace(/\.png$/i, '-uncertain.png');
    const plan = planOutputs([output, ...(v.flat ? [sideFlat] : []), ...(v.flat && v.uncertain ? [sideUncertain] : []), ...(v['palette-lock'] && v['keep-shading'] ? [sideShading] : [])], [
      { flag: '--reference', path: v.reference }, { flag: '--lineart', path: v.lineart }, { flag: '--model', path: v.model }, { flag: '--reference-encoder', path: v['reference-encoder'] },
      { flag: '--sketch-mask', path: v['sketch-mask'] }, { flag: '--reference-mask', path: v['reference-mask'] },
    ], { overwrite: v.overwrite });
    const referenceStrength = v['reference-strength'] === undefined ? undefined : parseStrength(v['reference-strength']);
    const t0 = performance.now();
    // ColorizeDiffusion reads its own inputs (pictures or .npy tensors); the flat path keeps alpha
    // (transparent sheets and line layers on transparency); SDRO takes line art drawn on white.
    let reference = colorizeDiffusionModel ? undefined : await decodeImage(readInput(v.reference), v.flat ? 4 : 3, v.reference);
    let lineArt = colorizeDiffusionModel ? undefined : await decodeLineArt(readInput(v.lineart), v.lineart, undefined, { keepAlpha: v.flat });
    const settings: Record<string, unknown> = { reference: v.reference, lineart: v.lineart };
    const extraFiles: [string, Image][] = [];
    let result: Image;
    if (v.flat) {
      const flat = flatColorize({ reference: reference!, lineArt: lineArt! });
      for (const w of flat.warnings) console.error(`warning: ${w}`);
      Object.assign(settings, { method: 'flat', palette: flat.palette.colors });
      result = flat.composite;
      extraFiles.push([sideFlat, flat.flat]);
      if (v.uncertain) extraFiles.push([sideUncertain, flat.uncertain]);
    } else if (colorizeDiffusionModel) {
      const cp = await loadColorizeDiffusion(v.model!, {
        provider: v.device as 'cpu' | 'cuda', referenceEncoder: v['reference-encoder'], prediction: v.prediction === undefined ? undefined : predictions[v.prediction],
      });
      try {
        if (!cp.modes.includes(mode)) console.error(`warning: ${v.model} supports ${cp.modes.join(', ')}`);
        const bar = progressBar(`colouring (${mode})`, steps);
        const ref = await readColorizeImage(v.reference, 'reference');
        const sketch = await readColorizeImage(v.lineart, 'line art');
        if ('channels' in ref) reference = ref;
        if ('channels' in sketch) lineArt = sketch;
        const out = await colorizeDiffusion({
          model: cp, reference: ref, sketch, mode, steps, seed, referenceGuidance: refGuidance, sketchGuidance, referenceScale: referenceStrength,
          sketchMask: v['sketch-mask'] === undefined ? undefined : await readColorizeMask(v['sketch-mask'], 'sketch mask'),
          referenceMask: v['reference-mask'] === undefined ? undefined : await readColorizeMask(v['reference-mask'], 'reference mask'),
          onProgress: (p) => p.phase === 'step' && bar.update(p.step),
        });
        bar.done();
        for (const w of out.warnings) console.error(`warning: ${w}`);
        Object.assign(settings, {
          method: 'colorize-diffusion', model: v.model, mode, steps, seed: out.seed.toString(), refGuidance, sketchGuidance,
          prediction: cp.prediction, referenceStrength, referenceThreshold: COLORIZE_DIFFUSION_DEFAULTS.referenceThreshold, sketchThreshold: COLORIZE_DIFFUSION_DEFAULTS.sketchThreshold,
        });
        result = out.image;
      } finally {
        await cp.release();
      }
    } else {
      const pipe = await loadSdroPipeline(v.model!, { provider: v.device as 'cpu' | 'cuda' });
      try {
        const prepared = await prepareBlueprint(lineArt!, { source: 'lineart', segment: v.segment ? 'border' : false });
        for (const w of prepared.warnings) console.error(`warning: ${w}`);
        const bar = progressBar('colouring', steps);
        const out = await pipe.colorize({ reference: reference!, blueprint: prepared.blueprint, steps, seed, onProgress: (p) => p.phase === 'step' && bar.update(p.step) });
        bar.done();
        for (const w of out.warnings) console.error(`warning: ${w}`);
        Object.assign(settings, { method: 'sdro', model: v.model, steps, seed: out.seed.toString(), segment: v.segment });
        result = out.image;
      } finally {
        await pipe.release();
      }
    }
    if (v['palette-lock']) {
      if (!reference || !lineArt) throw new UsageError('--palette-lock needs picture inputs, not .npy tensors');
      const palette = extractPalette(reference);
      const line = result.width === lineArt.width && result.height === lineArt.height ? lineArt : resizeTo(lineArt, result);
      const locked = paletteLock(result, line, palette, { keepShading: v['keep-shading'] });
      result = locked.locked;
      settings.paletteLock = { colors: palette.colors, keepShading: v['keep-shading'] };
      if (locked.shading) extraFiles.push([sideShading, locked.shading]);
    }
    const text = { inkflow: JSON.stringify(settings) };
    writeOutputs(plan, await Promise.all([result, ...extraFiles.map(([, img]) => img)].map((img) => encodePng(img, text))));
    const ms = performance.now() - t0;
    console.log(`coloured ${result.width}×${result.height} in ${ms.toFixed(0)} ms → ${[output, ...extraFiles.map(([p]) => p)].join(', ')}`);
    return 0;
  },
};

/** Nearest-neighbour resize of the line art to the result's size (SDRO floors sizes to multiples of 8). */
function resizeTo(img: Image, like: Image): Image {
  return resizeImage(img, like.width, like.height, 'nearest-exact', 'disabled');
}

/** One reference strength, or one per cross-attention (comma-separated). */
function parseStrength(text: string): number | number[] {
  const parts = text.split(',').map((t) => parseScale('--reference-strength', t));
  return parts.length === 1 ? parts[0] : parts;
}

function parseScale(flag: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0 || n > 100) throw new UsageError(`${flag} must be a number in [0, 100], got "${text}"`);
  return n;
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function parseInteger(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be an integer in [${min}, ${max}], got "${text}"`);
  return n;
}

/** Input images are read with the byte limit (imaging/limits: a FIFO or /dev/zero cannot fill memory). */
function readInput(path: string): Buffer {
  return readImageBytes(path);
}
