// Colouring line art from a reference sheet, whichever way: the model-free paint bucket (flat), a Stable
// Diffusion Reference Only model folder, or a ColorizeDiffusion single file (told apart by its keys),
// then optionally palette lock. The dispatch the CLI used to hold, here so the workflow nodes (and with
// them the server) run exactly the same thing.
import { statSync } from 'node:fs';
import type { Image } from '../../imaging/image.ts';
import { classifyReferencePixels, deltaE, extractPalette, rgbToLab, type Palette, type Rgb } from '../../imaging/palette.ts';
import { resizeImage } from '../../imaging/resize.ts';
import type { Mask } from '../../imaging/masks.ts';
import type { ColorizeMode } from '../../models/splitAttention/modes.ts';
import { flatColorize } from '../flat/colorize.ts';
import { shippedLearnedMatching } from '../flat/learnedBackground.ts';
import { paletteLock } from '../flat/paletteLock.ts';
import { prepareBlueprint } from './blueprint.ts';
import { isColorizeDiffusionFile, loadColorizeDiffusion, type PredictionKind } from './colorizeDiffusionCheckpoint.ts';
import { COLORIZE_DIFFUSION_DEFAULTS, type F32Tensor } from './colorizeDiffusion.ts';
import { colorizeDiffusion } from './colorizeDiffusionPipeline.ts';
import { loadSdroPipeline, SDRO_DEFAULT_STEPS } from './sdro.ts';
import { checkFastModes, fastModeNotes, type FastModes } from './fastModes.ts';

export class ColorizeRequestError extends Error {
  override name = 'ColorizeRequestError';
}

export type ColorizeModelKind = 'sdro' | 'colorize-diffusion';

/** SDRO for a folder, ColorizeDiffusion for a .safetensors with its keys; anything else is refused. */
export function colorizeModelKind(path: string): ColorizeModelKind {
  let file: boolean;
  try {
    file = statSync(path).isFile();
  } catch {
    throw new ColorizeRequestError(`model ${path} does not exist`);
  }
  if (!file) return 'sdro';
  if (!isColorizeDiffusionFile(path)) {
    throw new ColorizeRequestError(`model ${path} is a file but not a ColorizeDiffusion checkpoint (a .safetensors with control_encoder.* or split-attention LoRA keys); for SDRO give the model folder`);
  }
  return 'colorize-diffusion';
}

export interface ColorizeModelRequest {
  /** ColorizeDiffusion also takes a [1,3,H,W] tensor in [−1,1] (a .npy of the original's inputs), used as is. */
  reference: Image | F32Tensor;
  lineArt: Image | F32Tensor;
  model: string;
  steps?: number;
  seed?: bigint;
  /** ColorizeDiffusion: vanilla (default), bg2fig, fig2fig. */
  mode?: ColorizeMode;
  referenceGuidance?: number;
  sketchGuidance?: number;
  referenceEncoder?: string;
  prediction?: PredictionKind;
  /** ColorizeDiffusion: the line art's / the reference's foreground mask (default: border flood fill). */
  sketchMask?: Mask | F32Tensor;
  referenceMask?: Mask | F32Tensor;
  /** ColorizeDiffusion: reference strength of every cross-attention, or one per cross-attention. */
  referenceStrength?: number | readonly number[];
  /** SDRO: clear the line art's background (border flood fill) first. */
  segment?: boolean;
  /** SDRO: the reference's CLIP last_hidden_state [1, tokens, width], encoded elsewhere (CLIPVisionEncode). */
  referenceEmbedding?: { shape: number[]; data: Float32Array };
  device?: 'cpu' | 'cuda';
  /** SDRO: int8 inference and step caching (lossy, opt-in; see fastModes.ts). */
  precision?: FastModes['precision'];
  cacheSteps?: number;
  onStep?: (step: number, total: number) => void;
  /** Stops the run between steps (and before loading or encoding) with an AbortError. */
  signal?: AbortSignal;
}

export interface ColorizeOutcome {
  image: Image;
  /** Extra layers written beside the result (flat: the flat colours; palette lock: the shading). */
  layers: { suffix: string; image: Image }[];
  /** The settings that reproduce the result (embedded in the PNG). */
  settings: Record<string, unknown>;
  warnings: string[];
}

/**
 * The flat matcher: the model-free hand-set costs, or those with the learned matcher and background decision
 * (models/default/flat-matcher; the default: on tuning and held-out generated pairs it colours more of the figure).
 */
export const FLAT_MATCHERS = ['hand', 'learned'] as const;
export type FlatMatcher = (typeof FLAT_MATCHERS)[number];
export const DEFAULT_FLAT_MATCHER: FlatMatcher = 'learned';

/**
 * Model-free paint-bucket colouring: line-art regions matched to the reference's flat regions. RGBA inputs
 * keep their alpha (transparent sheets, line layers on transparency). Layers: the flat colours, then the
 * uncertain-region mask.
 */
export function colorizeFlat(reference: Image, lineArt: Image, matcher: FlatMatcher = DEFAULT_FLAT_MATCHER): ColorizeOutcome {
  const match = matcher === 'learned' ? shippedLearnedMatching() : undefined;
  const flat = flatColorize({ reference, lineArt, options: { match } });
  return {
    image: flat.composite,
    layers: [{ suffix: 'flat', image: flat.flat }, { suffix: 'uncertain', image: flat.uncertain }],
    settings: { method: 'flat', palette: flat.palette.colors, matcher },
    warnings: flat.warnings,
  };
}

/** Colouring with an SDRO folder or a ColorizeDiffusion file. */
export async function colorizeWithModel(r: ColorizeModelRequest): Promise<ColorizeOutcome> {
  const kind = colorizeModelKind(r.model);
  const steps = r.steps ?? SDRO_DEFAULT_STEPS;
  const warnings: string[] = [];
  if (kind === 'colorize-diffusion') {
    if (r.segment) throw new ColorizeRequestError('segment applies to SDRO models; ColorizeDiffusion makes its own sketch and reference masks');
    if (r.referenceEmbedding) throw new ColorizeRequestError('a reference embedding (CLIP_VISION_OUTPUT) applies to SDRO models; ColorizeDiffusion encodes the reference with its own OpenCLIP tower');
    if (r.precision === 'int8' || (r.cacheSteps ?? 1) > 1) throw new ColorizeRequestError('int8 precision and step caching apply to SDRO models only for now');
    const mode = r.mode ?? 'vanilla';
    const refGuidance = r.referenceGuidance ?? COLORIZE_DIFFUSION_DEFAULTS.referenceGuidance;
    const sketchGuidance = r.sketchGuidance ?? COLORIZE_DIFFUSION_DEFAULTS.sketchGuidance;
    r.signal?.throwIfAborted();
    const cp = await loadColorizeDiffusion(r.model, { provider: r.device ?? 'cpu', referenceEncoder: r.referenceEncoder, prediction: r.prediction });
    try {
      if (!cp.modes.includes(mode)) warnings.push(`${r.model} supports ${cp.modes.join(', ')}`);
      const out = await colorizeDiffusion({
        model: cp, reference: r.reference, sketch: r.lineArt, mode, steps, seed: r.seed, referenceGuidance: refGuidance, sketchGuidance,
        sketchMask: r.sketchMask, referenceMask: r.referenceMask, referenceScale: r.referenceStrength,
        onProgress: (p) => p.phase === 'step' && r.onStep?.(p.step, steps),
        signal: r.signal,
      });
      warnings.push(...out.warnings);
      return {
        image: out.image, layers: [], warnings,
        settings: {
          method: 'colorize-diffusion', model: r.model, mode, steps, seed: out.seed.toString(), refGuidance, sketchGuidance,
          prediction: cp.prediction, referenceStrength: r.referenceStrength, referenceThreshold: COLORIZE_DIFFUSION_DEFAULTS.referenceThreshold, sketchThreshold: COLORIZE_DIFFUSION_DEFAULTS.sketchThreshold,
        },
      };
    } finally {
      await cp.release();
    }
  }
  const given = (['mode', 'referenceGuidance', 'sketchGuidance', 'referenceEncoder', 'prediction', 'sketchMask', 'referenceMask', 'referenceStrength'] as const).filter((k) => r[k] !== undefined);
  if (given.length) throw new ColorizeRequestError(`${given.join(', ')} apply to ColorizeDiffusion checkpoints only; ${r.model} is an SDRO model folder`);
  if (!isPicture(r.reference) || !isPicture(r.lineArt)) throw new ColorizeRequestError(`SDRO takes pictures, not tensors (${r.model} is an SDRO model folder)`);
  const fast: FastModes = { precision: r.precision, cacheSteps: r.cacheSteps };
  try {
    checkFastModes(fast);
  } catch (e) {
    throw new ColorizeRequestError((e as Error).message);
  }
  r.signal?.throwIfAborted();
  const pipe = await loadSdroPipeline(r.model, { provider: r.device ?? 'cpu', ...(r.precision === 'int8' ? { precision: 'int8' as const } : {}) });
  try {
    r.signal?.throwIfAborted();
    const prepared = await prepareBlueprint(r.lineArt, { source: 'lineart', segment: r.segment ? 'border' : false });
    warnings.push(...prepared.warnings);
    const cacheSteps = (r.cacheSteps ?? 1) > 1 ? r.cacheSteps : undefined;
    const out = await pipe.colorize({
      reference: r.reference, blueprint: prepared.blueprint, steps, seed: r.seed, referenceEmbedding: r.referenceEmbedding, signal: r.signal, cacheSteps,
      onProgress: (p) => p.phase === 'step' && r.onStep?.(p.step, steps),
    });
    warnings.push(...out.warnings, ...fastModeNotes(fast));
    // The lossy modes are recorded only when on, so fp32 settings (and PNGs) stay as they were.
    const lossy = { ...(r.precision === 'int8' ? { precision: 'int8' } : {}), ...(cacheSteps ? { cacheSteps } : {}) };
    return { image: out.image, layers: [], warnings, settings: { method: 'sdro', model: r.model, steps, seed: out.seed.toString(), segment: r.segment ?? false, ...lossy } };
  } finally {
    await pipe.release();
  }
}

/**
 * The sheet's paper colour (its most frequent opaque background colour; white when the background is
 * transparent), or undefined when the sheet has no background. The palette leaves background out, so
 * without this entry the page around the figure was snapped to a character colour.
 */
function paperColour(reference: Image): { color: Rgb; count: number } | undefined {
  const { background } = classifyReferencePixels(reference);
  const ch = reference.channels;
  const counts = new Map<number, number>();
  let any = 0;
  for (let i = 0; i < background.length; i++) {
    if (!background[i]) continue;
    any++;
    if (ch === 4 && reference.data[i * 4 + 3] < 128) continue;
    const key = ch < 3 ? reference.data[i * ch] * 0x10101 : (reference.data[i * ch] << 16) | (reference.data[i * ch + 1] << 8) | reference.data[i * ch + 2];
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  if (!any) return undefined;
  const [key, count] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0] ?? [0xffffff, any];
  return { color: [(key >> 16) & 255, (key >> 8) & 255, key & 255], count };
}

/** The sheet's palette plus its paper colour (unless a palette colour is already within ΔE 10 of it). */
function lockPalette(reference: Image): Palette {
  const palette = extractPalette(reference);
  const paper = paperColour(reference);
  if (!paper) return palette;
  const lab = rgbToLab(...paper.color);
  if (palette.colors.some((c) => deltaE(rgbToLab(...c), lab) < 10)) return palette;
  return { colors: [...palette.colors, paper.color], counts: [...palette.counts, paper.count] };
}

/** Palette lock: every line-art region of `colored` snapped to the nearest colour of the reference's palette or paper. */
export function lockToPalette(colored: Image, lineArt: Image, reference: Image, keepShading: boolean): ColorizeOutcome {
  const palette = lockPalette(reference);
  // SDRO floors sizes to multiples of 8: the line art follows the result's size.
  const line = colored.width === lineArt.width && colored.height === lineArt.height ? lineArt : resizeImage(lineArt, colored.width, colored.height, 'nearest-exact', 'disabled');
  const locked = paletteLock(colored, line, palette, { keepShading });
  return {
    image: locked.locked,
    layers: locked.shading ? [{ suffix: 'shading', image: locked.shading }] : [],
    settings: { paletteLock: { colors: palette.colors, keepShading } },
    warnings: [],
  };
}

const isPicture = (x: Image | F32Tensor): x is Image => 'channels' in x;
