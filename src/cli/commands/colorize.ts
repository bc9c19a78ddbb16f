// `inkflow colorize`: colour line art from a reference sheet, either with the model-free paint bucket
// (--flat), with a Stable Diffusion Reference Only model folder (--model DIR) or with a ColorizeDiffusion
// single file (--model FILE.safetensors, told apart by its sketch-encoder / split-LoRA keys; --mode picks
// vanilla, bg2fig or fig2fig). --palette-lock snaps the result to the reference's exact colours. Every
// setting is embedded in the output PNG as tEXt. The command only checks its options and plans its outputs;
// the colouring runs as a small workflow through the server's executor (colorizeRun.ts), except .npy
// tensors and frame sequences, which call the same pipeline functions directly.
import { statSync } from 'node:fs';
import { extname } from 'node:path';
import { insertPngText } from '../../imaging/image.ts';
import { assertColorizeDiffusionFile, isColorizeDiffusionFile, type PredictionKind } from '../../pipelines/colorize/colorizeDiffusionCheckpoint.ts';
import { COLORIZE_DIFFUSION_DEFAULTS } from '../../pipelines/colorize/colorizeDiffusion.ts';
import { DEFAULT_FLAT_MATCHER, type FlatMatcher } from '../../pipelines/colorize/colorizeLineArt.ts';
import { MAX_CACHE_INTERVAL, PRECISIONS } from '../../pipelines/colorize/fastModes.ts';
import type { Precision } from '../../graph/int8Lowering.ts';
import { COLORIZE_MODES, parseColorizeMode } from '../../models/splitAttention/modes.ts';
import { type Command, UsageError } from '../command.ts';
import { parseOptions, parseSeed } from '../options.ts';
import { planOutputs, writeOutputs } from '../outputPlan.ts';
import { isFramePattern, runFlatSequence } from './colorizeFlatSequence.ts';
import { type ColorizeRun, colorizeAsWorkflow, colorizeTensors } from './colorizeRun.ts';
import { bundledSdroModel, DEFAULT_SDRO_MODEL } from '../defaultSdroModel.ts';

const HELP = `usage: inkflow colorize --reference REF.png --lineart LINE.png [--flat | --model PATH] [options]

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
  --matcher learned|hand  with --flat, single frames: the hand-set costs blended with the small
                      learned matcher and background decision (learned, default;
                      models/default/flat-matcher) or the model-free matcher (hand; frame sequences)
  (neither)           the bundled tiny SDRO model (models/default/sdro: 128², synthetic characters)
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
  --precision P       SDRO: fp32 (default, exact) or int8 (quantised encoder, UNet and VAE: faster,
                      lossy; prints the error it was measured to add)
  --cache-steps N     SDRO: step caching — the full UNet every N steps (and the first and last), only
                      its shallow blocks in between (1 = off, default; lossy, prints its measured error)
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
      matcher: { type: 'string' },
      device: { type: 'string', default: 'cpu' },
      precision: { type: 'string', default: 'fp32' },
      'cache-steps': { type: 'string', default: '1' },
      output: { type: 'string', short: 'o', default: 'colored.png' },
      overwrite: { type: 'boolean', default: false },
    });
    if (!v.reference) throw new UsageError('--reference is required');
    if (!v.lineart) throw new UsageError('--lineart is required');
    if (v.flat && v.model) throw new UsageError('choose one of --flat and --model DIR');
    if (!v.flat && !v.model) {
      const bundled = bundledSdroModel();
      if (!bundled) throw new UsageError(`no --model given and the bundled default model is missing (${DEFAULT_SDRO_MODEL}): give --model DIR or --flat`);
      v.model = bundled;
      console.error(`no --model: using the bundled tiny SDRO model ${bundled} (128² synthetic characters; see its README.md) — --model DIR for your own, --flat for the paint bucket`);
    }
    if (v.device !== 'cpu' && v.device !== 'cuda') throw new UsageError(`--device must be cpu or cuda, got ${v.device}`);
    const steps = parseInteger('--steps', v.steps!, 1, 1000);
    if (!(PRECISIONS as readonly string[]).includes(v.precision!)) throw new UsageError(`--precision must be one of ${PRECISIONS.join(', ')}, got ${v.precision}`);
    const precision = v.precision as Precision;
    const cacheSteps = parseInteger('--cache-steps', v['cache-steps']!, 1, MAX_CACHE_INTERVAL);
    const fastModes = precision !== 'fp32' || cacheSteps > 1;
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
    if (v.matcher !== undefined && v.matcher !== 'hand' && v.matcher !== 'learned') throw new UsageError(`--matcher must be learned or hand, got ${v.matcher}`);
    if (v.matcher !== undefined && !v.flat) throw new UsageError('--matcher applies to --flat only');
    if (v.matcher === 'learned' && isFramePattern(v.lineart)) throw new UsageError('--matcher learned colours single frames for now, not a frame sequence');
    if (fastModes && (v.flat || colorizeDiffusionModel)) throw new UsageError('--precision and --cache-steps apply to SDRO model folders only');
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

    // A frame sequence stays a direct pipeline call: each frame is coloured from the previous one's result,
    // a loop over a variable number of files that one fixed ComfyUI graph does not express.
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
    const files = [output, ...(v.flat ? [sideFlat] : []), ...(v.flat && v.uncertain ? [sideUncertain] : []), ...(v['palette-lock'] && v['keep-shading'] ? [sideShading] : [])];
    const plan = planOutputs(files, [
      { flag: '--reference', path: v.reference }, { flag: '--lineart', path: v.lineart }, { flag: '--model', path: v.model }, { flag: '--reference-encoder', path: v['reference-encoder'] },
      { flag: '--sketch-mask', path: v['sketch-mask'] }, { flag: '--reference-mask', path: v['reference-mask'] },
    ], { overwrite: v.overwrite });
    const referenceStrength = v['reference-strength'] === undefined ? undefined : parseStrength(v['reference-strength']);
    const npyGiven = [v.reference, v.lineart, v['sketch-mask'], v['reference-mask']].some((p) => p !== undefined && isNpyPath(p));
    if (npyGiven && v['palette-lock']) throw new UsageError('--palette-lock needs picture inputs, not .npy tensors');
    const t0 = performance.now();
    const run: ColorizeRun = {
      reference: v.reference, lineart: v.lineart, flat: v.flat!, model: v.model, device: v.device as 'cpu' | 'cuda', steps, seed, mode,
      refGuidance, sketchGuidance, prediction: v.prediction === undefined ? undefined : predictions[v.prediction], referenceEncoder: v['reference-encoder'],
      sketchMask: v['sketch-mask'], referenceMask: v['reference-mask'], referenceStrength, segment: v.segment!,
      paletteLock: v['palette-lock']!, keepShading: v['keep-shading']!, uncertain: v.uncertain!, colorizeDiffusion: colorizeDiffusionModel,
      // Single flat frames take the default matcher unless told; sequences are coloured by the model-free path.
      ...(v.flat && !isFramePattern(v.lineart) ? { matcher: (v.matcher as FlatMatcher | undefined) ?? DEFAULT_FLAT_MATCHER } : {}),
      ...(precision === 'int8' ? { precision } : {}), ...(cacheSteps > 1 ? { cacheSteps } : {}),
    };
    // .npy tensors (ColorizeDiffusion only) are not ComfyUI IMAGE/MASK values — they bypass line detection
    // and keep float precision — so they go to the same colouring function directly; pictures run as a workflow.
    const done = npyGiven ? await colorizeTensors(run) : await colorizeAsWorkflow(run);
    if (done === 'interrupted') {
      process.stderr.write('inkflow: interrupted — nothing was written\n');
      return 130;
    }
    for (const w of done.warnings) console.error(`warning: ${w}`);
    const settings = { reference: v.reference, lineart: v.lineart, ...done.settings, ...(v.model === undefined ? {} : { model: v.model }) };
    const text = { inkflow: JSON.stringify(settings) };
    // In the plan's order: the result, the flat layer, the uncertain mask, the shading layer.
    writeOutputs(plan, done.pngs.map((png) => insertPngText(png, text)));
    console.log(`coloured ${done.width}×${done.height} in ${(performance.now() - t0).toFixed(0)} ms → ${files.join(', ')}`);
    return 0;
  },
};

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


const isNpyPath = (path: string) => path.toLowerCase().endsWith('.npy');
