// `inkflow colorize`: colour line art from a reference sheet, either with the model-free paint bucket
// (--flat), with a Stable Diffusion Reference Only model folder (--model DIR) or with a ColorizeDiffusion
// single file (--model FILE.safetensors, told apart by its sketch-encoder / split-LoRA keys; --mode picks
// vanilla, bg2fig or fig2fig). --palette-lock snaps the result to the reference's exact colours. Every
// setting is embedded in the output PNG as tEXt.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../../files/atomicWrite.ts';
import { decodeImage, insertPngText } from '../../imaging/image.ts';
import { isColorizeDiffusionFile, type PredictionKind } from '../../pipelines/colorize/colorizeDiffusionCheckpoint.ts';
import { COLORIZE_DIFFUSION_DEFAULTS } from '../../pipelines/colorize/colorizeDiffusion.ts';
import { COLORIZE_MODES, parseColorizeMode } from '../../models/splitAttention/modes.ts';
import type { ApiPrompt } from '../../workflow/api.ts';
import { dataFolderEnv } from '../../workflow/dataFolder.ts';
import { randomSeed } from '../../workflow/nodes/inkflowNodes.ts';
import { type Command, UsageError } from '../command.ts';
import { runCliWorkflow } from '../runWorkflow.ts';

const HELP = `usage: inkflow colorize --reference REF.png --lineart LINE.png (--flat | --model PATH) [options]

Colours line art from a character reference sheet.

options:
  --reference FILE    the character sheet / reference image
  --lineart FILE      the line art (dark lines on light paper, or white on black: detected)
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
    const reference = resolve(v.reference);
    const lineart = resolve(v.lineart);
    for (const f of [reference, lineart]) readInput(f); // a clear "cannot read" before anything runs
    const seedValue = seed ?? BigInt(randomSeed());

    // The command is a small workflow run by the same executor as the server, in a throwaway data folder.
    const work = mkdtempSync(join(tmpdir(), 'inkflow-colorize-'));
    try {
      const env = dataFolderEnv(work, { device: v.device as 'cpu' | 'cuda' });
      const refName = `reference${extname(reference)}`;
      const lineName = `lineart${extname(lineart)}`;
      copyFileSync(reference, join(env.inputDir, refName));
      copyFileSync(lineart, join(env.inputDir, lineName));
      const prompt: ApiPrompt = {
        1: { class_type: 'LoadImage', inputs: { image: refName } },
        2: { class_type: 'LoadImage', inputs: { image: lineName } },
      };
      if (v.flat) {
        prompt[3] = { class_type: 'InkflowFlatColorize', inputs: { reference: ['1', 0], lineart: ['2', 0] } };
        prompt[12] = { class_type: 'SaveImage', inputs: { images: ['3', 1], filename_prefix: 'flat' } };
      } else {
        env.modelDirs.colorize.push(dirname(resolve(v.model!)));
        const inputs: Record<string, unknown> = { reference: ['1', 0], lineart: ['2', 0], model_name: basename(resolve(v.model!)), steps, seed: Number(seedValue) };
        if (colorizeDiffusionModel) {
          Object.assign(inputs, { mode, ref_guidance: refGuidance, sketch_guidance: sketchGuidance });
          if (v.prediction !== undefined) inputs.prediction = predictions[v.prediction] === 'epsilon' ? 'eps' : 'v';
          if (v['reference-encoder'] !== undefined) {
            env.modelDirs.clip_vision.push(dirname(resolve(v['reference-encoder'])));
            inputs.reference_encoder = basename(v['reference-encoder']);
          }
        } else inputs.segment = v.segment;
        prompt[3] = { class_type: 'InkflowReferenceColorize', inputs };
      }
      let result: [string, number] = ['3', 0];
      if (v['palette-lock']) {
        prompt[4] = { class_type: 'InkflowPaletteLock', inputs: { image: result, lineart: ['2', 0], reference: ['1', 0], keep_shading: v['keep-shading'] } };
        result = ['4', 0];
        if (v['keep-shading']) prompt[13] = { class_type: 'SaveImage', inputs: { images: ['4', 1], filename_prefix: 'shading' } };
      }
      prompt[11] = { class_type: 'SaveImage', inputs: { images: result, filename_prefix: 'colored' } };
      const run = await runCliWorkflow(prompt, env, { label: 'colorize', quietNodes: true });
      if (run.status === 'interrupted') {
        process.stderr.write('inkflow: interrupted — nothing was written\n');
        return 130;
      }
      const settings: Record<string, unknown> = { reference: v.reference, lineart: v.lineart };
      for (const id of ['3', '4']) {
        const ui = run.outputs[id]?.ui;
        Object.assign(settings, ...((ui?.inkflow_settings as Record<string, unknown>[] | undefined) ?? []));
        for (const w of (ui?.inkflow_warnings as string[] | undefined) ?? []) console.error(`warning: ${w}`);
      }
      const text = { inkflow: JSON.stringify(settings) };
      const files: [string, string][] = [[output, run.outputs['11'].files[0]]];
      if (run.outputs['12']) files.push([output.replace(/\.png$/i, '-flat.png'), run.outputs['12'].files[0]]);
      if (run.outputs['13']) files.push([output.replace(/\.png$/i, '-shading.png'), run.outputs['13'].files[0]]);
      mkdirSync(dirname(output) || '.', { recursive: true });
      for (const [path, saved] of files) writeFileAtomic(path, insertPngText(readInput(saved), text), { overwrite: true });
      const size = await decodeImage(readInput(files[0][1]), 3);
      console.log(`coloured ${size.width}×${size.height} in ${(performance.now() - t0).toFixed(0)} ms → ${files.map(([p]) => p).join(', ')}`);
      return 0;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
};

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
