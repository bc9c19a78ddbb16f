// Held-out evaluation of an SDRO colouring model on synthetic sheet → pose pairs (imaging/synthetic):
// the model colours the pose's line art from the sheet exactly as `inkflow colorize` does (blueprint
// from the line art, UniPC), and is compared with a global colour-transfer baseline (Reinhard mean/std
// transfer in CIELAB from the sheet onto the grey line art). Scores against the ground-truth colouring:
// PSNR and SSIM (luma) of the raw output, and after palette lock (every line-art region snapped to the
// sheet's nearest palette colour, as `--palette-lock` does) the same two plus BasicPBC-style segment accuracy.
import type { Image } from '../../imaging/image.ts';
import { psnr, ssim } from '../../imaging/metrics.ts';
import { labMeanStdTransfer } from '../../imaging/colorTransfer.ts';
import { generateCharacterPair, type SyntheticPair } from '../../imaging/synthetic/characterSheet.ts';
import { scoreColoring } from '../../imaging/synthetic/score.ts';
import { prepareBlueprint } from './blueprint.ts';
import { lockToPalette } from './colorizeLineArt.ts';
import type { SdroPipeline } from './sdro.ts';

export interface ColouringScores {
  psnr: number;
  ssim: number;
  /** Segment accuracy (regions ≥ the minimum area) after palette lock. */
  segmentAccuracy: number;
  /** PSNR and SSIM of the palette-locked output. */
  lockedPsnr: number;
  lockedSsim: number;
}

export interface SdroEvalCase {
  seed: number;
  model: ColouringScores;
  baseline: ColouringScores;
  images: { reference: Image; lineArt: Image; target: Image; model: Image; baseline: Image };
}

export function scoreAgainst(pred: Image, pair: SyntheticPair): ColouringScores {
  const locked = lockToPalette(pred, pair.targetLineArt, pair.reference, false).image;
  return {
    psnr: Math.min(100, psnr(pred, pair.target)), ssim: ssim(pred, pair.target), segmentAccuracy: scoreColoring(locked, pair).segmentAccuracy,
    lockedPsnr: Math.min(100, psnr(locked, pair.target)), lockedSsim: ssim(locked, pair.target),
  };
}

export interface SdroEvalOptions {
  seeds: readonly number[];
  size: number;
  steps?: number;
  /** Sampling seed (the same for every case). */
  sampleSeed?: number;
}

export async function evaluateSdro(pipe: SdroPipeline, o: SdroEvalOptions, onCase?: (c: SdroEvalCase) => void): Promise<SdroEvalCase[]> {
  const out: SdroEvalCase[] = [];
  for (const seed of o.seeds) {
    const pair = generateCharacterPair({ seed, width: o.size });
    const { blueprint } = await prepareBlueprint(pair.targetLineArt, { source: 'lineart' });
    const res = await pipe.colorize({ reference: pair.reference, blueprint, steps: o.steps, seed: o.sampleSeed ?? 0 });
    const baseline = labMeanStdTransfer(pair.targetLineArt, pair.reference);
    const c: SdroEvalCase = {
      seed, model: scoreAgainst(res.image, pair), baseline: scoreAgainst(baseline, pair),
      images: { reference: pair.reference, lineArt: pair.targetLineArt, target: pair.target, model: res.image, baseline },
    };
    onCase?.(c);
    out.push(c);
  }
  return out;
}

export function meanScores(rows: readonly ColouringScores[]): ColouringScores {
  const m = (k: keyof ColouringScores) => rows.reduce((s, r) => s + r[k], 0) / Math.max(1, rows.length);
  return { psnr: m('psnr'), ssim: m('ssim'), segmentAccuracy: m('segmentAccuracy'), lockedPsnr: m('lockedPsnr'), lockedSsim: m('lockedSsim') };
}
