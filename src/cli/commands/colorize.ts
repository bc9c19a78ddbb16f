// `inkflow colorize`: colour line art from a reference sheet, either with the model-free paint bucket
// (--flat), with a Stable Diffusion Reference Only model folder (--model DIR) or with a ColorizeDiffusion
// single file (--model FILE.safetensors, told apart by its sketch-encoder / split-LoRA keys; --mode picks
// vanilla, bg2fig or fig2fig). --palette-lock snaps the result to the reference's exact colours. Every
// setting is embedded in the output PNG as tEXt.
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import { parseArgs } from 'node:util';
import { type Image, decodeImage, encodePng } from '../../imaging/image.ts';
import { extractPalette } from '../../imaging/palette.ts';
import { resizeImage } from '../../imaging/resize.ts';
import { flatColorize } from '../../pipelines/flat/colorize.ts';
import { paletteLock } from '../../pipelines/flat/paletteLock.ts';
import { isFramePattern, runFlatSequence } from './colorizeFlatSequence.ts';
import { loadSdroPipeline } from '../../pipelines/colorize/sdro.ts';
import { prepareBlueprint } from '../../pipelines/colorize/blueprint.ts';
import { isColorizeDiffusionFile, loadColorizeDiffusion, type PredictionKind } from '../../pipelines/colorize/colorizeDiffusionCheckpoint.ts';
import { colorizeDiffusion } from '../../pipelines/colorize/colorizeDiffusionPipeline.ts';
import { COLORIZE_DIFFUSION_DEFAULTS } from '../../pipelines/colorize/colorizeDiffusion.ts';
import { COLORIZE_MODES, parseColorizeMode } from '../../models/splitAttention/modes.ts';
import { type Command, UsageError } from '../command.ts';
import { progressBar } from '../progress.ts';

const HELP = `usage: inkflow colorize --reference REF.png --lineart LINE.png (--flat | --model PATH) [options]

Colours line art from a character reference sheet.

options:
  --reference FILE    the character sheet / reference image
  --lineart FILE      the line art (dark lines on light paper, or white on black: detected); with
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
  --mode M            ColorizeDiffusion only: vanilla (default), bg2fig (foreground LoRA, sketch mask
                      split) or fig2fig (both LoRAs, background tokens from the masked reference)
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
  -h, --help          this help`;

export const colorizeCommand: Command = {
  name: 'colorize',
  summary: 'colour line art from a reference sheet (--flat paint bucket, an SDRO folder or a ColorizeDiffusion file)',
  help: HELP,
  async run(argv) {
    const { values: v } = parseArgs({
      args: argv,
      options: {
        reference: { type: 'string' },
        lineart: { type: 'string' },
        flat: { type: 'boolean', default: false },
        model: { type: 'string' },
        mode: { type: 'string' },
        'ref-guidance': { type: 'string' },
        'sketch-guidance': { type: 'string' },
        'reference-encoder': { type: 'string' },
        prediction: { type: 'string' },
        steps: { type: 'string', default: '20' },
        seed: { type: 'string' },
        segment: { type: 'boolean', default: false },
        'palette-lock': { type: 'boolean', default: false },
        'keep-shading': { type: 'boolean', default: false },
        uncertain: { type: 'boolean', default: false },
        device: { type: 'string', default: 'cpu' },
        output: { type: 'string', short: 'o', default: 'colored.png' },
      },
      strict: true,
    });
    if (!v.reference) throw new UsageError('--reference is required');
    if (!v.lineart) throw new UsageError('--lineart is required');
    if (v.flat === Boolean(v.model)) throw new UsageError('choose exactly one of --flat and --model DIR');
    if (v.device !== 'cpu' && v.device !== 'cuda') throw new UsageError(`--device must be cpu or cuda, got ${v.device}`);
    const steps = parseInteger('--steps', v.steps!, 1, 1000);
    const seed = v.seed === undefined ? undefined : BigInt(parseInteger('--seed', v.seed, 0, Number.MAX_SAFE_INTEGER));
    const output = v.output!;
    if (extname(output).toLowerCase() !== '.png') throw new UsageError(`output must be a .png file, got ${output}`);
    if (v.model !== undefined && !exists(v.model)) throw new UsageError(`--model ${v.model} does not exist`);
    const cdOnly = (['mode', 'ref-guidance', 'sketch-guidance', 'reference-encoder', 'prediction'] as const).filter((k) => v[k] !== undefined);
    const colorizeDiffusionModel = v.model !== undefined && isFile(v.model);
    if (colorizeDiffusionModel && !isColorizeDiffusionFile(v.model!)) {
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

    const t0 = performance.now();
    if (v.flat && isFramePattern(v.lineart)) {
      const written = await runFlatSequence({ reference: v.reference, pattern: v.lineart, output, uncertain: v.uncertain! });
      console.log(`coloured ${written.length} file(s) in ${(performance.now() - t0).toFixed(0)} ms → ${written.join(', ')}`);
      return 0;
    }
    // The flat path keeps alpha: transparent sheets and line layers on transparency.
    const reference = await decodeImage(readInput(v.reference), v.flat ? 4 : 3, v.reference);
    const lineArt = await decodeImage(readInput(v.lineart), v.flat ? 4 : 3, v.lineart);
    const settings: Record<string, unknown> = { reference: v.reference, lineart: v.lineart };
    const extraFiles: [string, Image][] = [];
    let result: Image;
    if (v.flat) {
      const flat = flatColorize({ reference, lineArt });
      for (const w of flat.warnings) console.error(`warning: ${w}`);
      Object.assign(settings, { method: 'flat', palette: flat.palette.colors });
      result = flat.composite;
      extraFiles.push([output.replace(/\.png$/i, '-flat.png'), flat.flat]);
      if (v.uncertain) extraFiles.push([output.replace(/\.png$/i, '-uncertain.png'), flat.uncertain]);
    } else if (colorizeDiffusionModel) {
      const cp = await loadColorizeDiffusion(v.model!, {
        provider: v.device as 'cpu' | 'cuda', referenceEncoder: v['reference-encoder'], prediction: v.prediction === undefined ? undefined : predictions[v.prediction],
      });
      try {
        if (!cp.modes.includes(mode)) console.error(`warning: ${v.model} supports ${cp.modes.join(', ')}`);
        const bar = progressBar(`colouring (${mode})`, steps);
        const out = await colorizeDiffusion({
          model: cp, reference, sketch: lineArt, mode, steps, seed, referenceGuidance: refGuidance, sketchGuidance,
          onProgress: (p) => p.phase === 'step' && bar.update(p.step),
        });
        bar.done();
        for (const w of out.warnings) console.error(`warning: ${w}`);
        Object.assign(settings, {
          method: 'colorize-diffusion', model: v.model, mode, steps, seed: out.seed.toString(), refGuidance, sketchGuidance,
          prediction: cp.prediction, referenceThreshold: COLORIZE_DIFFUSION_DEFAULTS.referenceThreshold, sketchThreshold: COLORIZE_DIFFUSION_DEFAULTS.sketchThreshold,
        });
        result = out.image;
      } finally {
        await cp.release();
      }
    } else {
      const pipe = await loadSdroPipeline(v.model!, { provider: v.device as 'cpu' | 'cuda' });
      try {
        const prepared = await prepareBlueprint(lineArt, { source: 'lineart', segment: v.segment ? 'border' : false });
        for (const w of prepared.warnings) console.error(`warning: ${w}`);
        const bar = progressBar('colouring', steps);
        const out = await pipe.colorize({ reference, blueprint: prepared.blueprint, steps, seed, onProgress: (p) => p.phase === 'step' && bar.update(p.step) });
        bar.done();
        for (const w of out.warnings) console.error(`warning: ${w}`);
        Object.assign(settings, { method: 'sdro', model: v.model, steps, seed: out.seed.toString(), segment: v.segment });
        result = out.image;
      } finally {
        await pipe.release();
      }
    }
    if (v['palette-lock']) {
      const palette = extractPalette(reference);
      const line = result.width === lineArt.width && result.height === lineArt.height ? lineArt : resizeTo(lineArt, result);
      const locked = paletteLock(result, line, palette, { keepShading: v['keep-shading'] });
      result = locked.locked;
      settings.paletteLock = { colors: palette.colors, keepShading: v['keep-shading'] };
      if (locked.shading) extraFiles.push([output.replace(/\.png$/i, '-shading.png'), locked.shading]);
    }
    const text = { inkflow: JSON.stringify(settings) };
    mkdirSync(dirname(output) || '.', { recursive: true });
    writeFileSync(output, await encodePng(result, text));
    for (const [path, img] of extraFiles) writeFileSync(path, await encodePng(img, text));
    const ms = performance.now() - t0;
    console.log(`coloured ${result.width}×${result.height} in ${ms.toFixed(0)} ms → ${[output, ...extraFiles.map(([p]) => p)].join(', ')}`);
    return 0;
  },
};

/** Nearest-neighbour resize of the line art to the result's size (SDRO floors sizes to multiples of 8). */
function resizeTo(img: Image, like: Image): Image {
  return resizeImage(img, like.width, like.height, 'nearest-exact', 'disabled');
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

function readInput(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
