// The SDRO demo's "style transfer": segment both images (background to white), take the target's line art
// with the training recipe (threshold → invert), and colour it with the segmented reference.
import { assertImage, type Image } from '../../imaging/image.ts';
import { clearBackground } from '../../imaging/borderFill.ts';
import { foregroundMask, prepareBlueprint, type Segmenter } from './blueprint.ts';
import type { ColorizeOptions, ColorizeResult, SdroPipeline } from './sdro.ts';

export interface StyleTransferOptions extends Omit<ColorizeOptions, 'reference' | 'blueprint'> {
  /** The image whose colours to use. */
  reference: Image;
  /** The image whose shapes (line art) to keep. */
  target: Image;
  /** How to segment both images (default 'border': model-free flood fill; false: no segmentation). */
  segment?: Segmenter;
}

export interface StyleTransferResult extends ColorizeResult {
  /** The blueprint made from the target. */
  blueprint: Image;
  /** The reference as fed to the image encoder (background cleared when segmented). */
  reference: Image;
}

export async function styleTransfer(pipe: SdroPipeline, opts: StyleTransferOptions): Promise<StyleTransferResult> {
  assertImage(opts.reference, 'style transfer reference');
  assertImage(opts.target, 'style transfer target');
  const segment = opts.segment ?? 'border';
  const warnings: string[] = [];
  let reference = opts.reference;
  if (segment) {
    const mask = await foregroundMask(reference, 'colour', segment);
    if (mask.data.some((v) => v >= 0.5)) reference = clearBackground(reference, mask);
    else warnings.push('no foreground found in the reference: it is used whole');
  }
  const prepared = await prepareBlueprint(opts.target, { source: 'colour', segment });
  warnings.push(...prepared.warnings.map((w) => `target: ${w}`));
  const { target: _t, segment: _s, ...rest } = opts;
  const res = await pipe.colorize({ ...rest, reference, blueprint: prepared.blueprint });
  return { ...res, warnings: [...warnings, ...res.warnings], blueprint: prepared.blueprint, reference };
}
