// Colours an animation cut: frame 0 from the reference (propagated when the reference is a coloured frame of
// the same size, matched as a character sheet otherwise), every later frame from the previous frame's result
// (propagate.ts). Returns each frame's flat layer, finished drawing, uncertain mask and count.
import type { Image } from '../../imaging/image.ts';
import { DEFAULT_UNCERTAIN_BELOW, flatColorize, type FlatColorizeOptions } from './colorize.ts';
import { propagateFlat, type PropagateOptions } from './propagate.ts';

export interface SequenceFrameResult {
  flat: Image;
  composite: Image;
  uncertain: Image;
  uncertainCount: number;
  /** 'sheet' when the frame was matched to a character sheet, 'previous' when propagated. */
  source: 'sheet' | 'previous';
  warnings: string[];
}

export interface ColorizeSequenceInput {
  /** A coloured first frame (same size as the line art) or a character sheet (any size). */
  reference: Image;
  lineArts: Image[];
  sheetOptions?: FlatColorizeOptions;
  propagateOptions?: PropagateOptions;
  /** Called after each frame (for progress and to write results without keeping them all). */
  onFrame?: (index: number, result: SequenceFrameResult) => void;
}

export function colorizeSequence({ reference, lineArts, sheetOptions, propagateOptions, onFrame }: ColorizeSequenceInput): SequenceFrameResult[] {
  const results: SequenceFrameResult[] = [];
  let previous: Image | undefined;
  lineArts.forEach((lineArt, k) => {
    let result: SequenceFrameResult;
    const sameSize = reference.width === lineArt.width && reference.height === lineArt.height;
    if (k === 0 && !sameSize) {
      const out = flatColorize({ reference, lineArt, options: sheetOptions });
      const uncertainCount = countUncertain(out.regions.confidence, sheetOptions?.uncertainBelow ?? DEFAULT_UNCERTAIN_BELOW);
      result = { flat: out.flat, composite: out.composite, uncertain: out.uncertain, uncertainCount, source: 'sheet', warnings: out.warnings };
    } else {
      const from = previous ?? reference;
      if (from.width !== lineArt.width || from.height !== lineArt.height) {
        // A cut whose frames change size: start again from the sheet.
        const out = flatColorize({ reference, lineArt, options: sheetOptions });
        const uncertainCount = countUncertain(out.regions.confidence, sheetOptions?.uncertainBelow ?? DEFAULT_UNCERTAIN_BELOW);
        result = { flat: out.flat, composite: out.composite, uncertain: out.uncertain, uncertainCount, source: 'sheet', warnings: out.warnings };
      } else {
        const out = propagateFlat({ previous: from, lineArt, options: propagateOptions });
        result = { flat: out.flat, composite: out.composite, uncertain: out.uncertain, uncertainCount: out.uncertainCount, source: 'previous', warnings: [] };
      }
    }
    // The finished drawing, not the flat layer: its lines keep regions of one colour apart (two hair strands,
    // an arm over the sleeve), so the next frame tracks each piece; from the flat layer a 3-frame cut fell
    // from ~98 % to ~80 % segments.
    previous = result.composite;
    onFrame?.(k, result);
    results.push(result);
  });
  return results;
}

function countUncertain(confidence: Float32Array, below: number): number {
  let n = 0;
  for (const c of confidence) if (c < below) n++;
  return n;
}
