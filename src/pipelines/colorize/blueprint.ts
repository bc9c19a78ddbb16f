// Making the SDRO blueprint (white lines on black) from what users have:
//  - a colour image: the training recipe, adaptiveThreshold(MEAN_C, BINARY, 5, 7) then 255 − x (cv2-exact);
//  - line art (scan or drawing, either polarity): inverted to white-on-black when it is dark-on-light.
// Optionally the character is segmented first and the background cleared to white, as the SDRO demo does
// before extracting lines: with a user-supplied ONNX model (segmentation.ts) when given, otherwise by the
// model-free border flood fill of imaging/borderFill (closes small outline gaps).
import { assertImage, convertChannels, type Image } from '../../imaging/image.ts';
import { toGray } from '../../imaging/grayscale.ts';
import { blueprintFromColour, detectLinePolarity, flattenAlpha, invert, prepareLineArt } from '../../imaging/lineart.ts';
import { clearBackground, foregroundFromLineArt } from '../../imaging/borderFill.ts';
import type { Mask } from '../../imaging/masks.ts';
import type { SegmentationModel } from './segmentation.ts';

export type BlueprintSource = 'colour' | 'lineart';

/** false: no segmentation; 'border': model-free flood fill from the image border; or an ONNX model. */
export type Segmenter = false | 'border' | SegmentationModel;

export interface PrepareBlueprintOptions {
  /** What the image is (default 'lineart'). */
  source?: BlueprintSource;
  segment?: Segmenter;
  /** Border flood fill: close outline gaps up to about 2·gapClose px (default 2). */
  gapClose?: number;
}

export interface PreparedBlueprint {
  /** RGB, white lines on black, the input's size. */
  blueprint: Image;
  /** Foreground mask used to clear the background (when segmenting). */
  mask?: Mask;
  /** Things the caller should tell the user (empty line art, nothing segmented …). */
  warnings: string[];
}

/** A pixel counts as a line when its white-on-black value is above this. */
const LINE_LEVEL = 127;

/** True when the white-on-black blueprint has at least one line pixel. */
export function blueprintHasLines(blueprint: Image): boolean {
  assertImage(blueprint, 'blueprint');
  const c = blueprint.channels;
  const colour = c === 4 ? 3 : c;
  for (let i = 0; i < blueprint.data.length; i += c) {
    for (let k = 0; k < colour; k++) if (blueprint.data[i + k] > LINE_LEVEL) return true;
  }
  return false;
}

/** Foreground (1 = character) of a colour image or line drawing. */
export async function foregroundMask(img: Image, source: BlueprintSource, segment: Exclude<Segmenter, false>, gapClose?: number): Promise<Mask> {
  assertImage(img, 'foregroundMask');
  if (segment !== 'border') return segment.segment(img);
  // The flood fill walks line art; a colour image is first reduced to its threshold lines.
  const lines = source === 'colour' ? blueprintFromColour(img) : img;
  return foregroundFromLineArt(lines, { gapClose });
}

function isEmptyMask(m: Mask): boolean {
  for (let i = 0; i < m.data.length; i++) if (m.data[i] >= 0.5) return false;
  return true;
}

/** Any colour image or line drawing → SDRO blueprint (see file comment). */
export async function prepareBlueprint(img: Image, opts: PrepareBlueprintOptions = {}): Promise<PreparedBlueprint> {
  assertImage(img, 'prepareBlueprint');
  const source = opts.source ?? 'lineart';
  if (source !== 'colour' && source !== 'lineart') throw new Error(`prepareBlueprint: source must be "colour" or "lineart", got ${JSON.stringify(source)}`);
  const warnings: string[] = [];
  const flat = convertChannels(flattenAlpha(img), 3);
  // Line art is brought to dark-on-light first so that "background to white" means "paper".
  const page = source === 'lineart' && detectLinePolarity(flat) === 'light-on-dark' ? invert(flat) : flat;

  let mask: Mask | undefined;
  let cleared = page;
  if (opts.segment) {
    mask = await foregroundMask(page, source, opts.segment, opts.gapClose);
    if (isEmptyMask(mask)) warnings.push('segmentation found no foreground: the background was kept');
    else cleared = clearBackground(page, mask);
  }
  const blueprint = source === 'colour' ? blueprintFromColour(cleared) : convertChannels(invert(toGray(cleared)), 3);
  if (!blueprintHasLines(blueprint)) warnings.push('the blueprint has no lines (all black): colouring will follow the reference only');
  return { blueprint, mask, warnings };
}

/** Line art without segmentation: white-on-black, polarity detected (imaging's prepareLineArt, 3 channels). */
export function blueprintFromLineArt(img: Image): Image {
  return prepareLineArt(img, { channels: 3 });
}
