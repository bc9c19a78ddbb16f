// The opt-in lossy speed modes of model colouring (int8 inference, step caching): their settings, their
// checks, and the error each was measured to add, which the CLI and the node print when a mode is on.
// The numbers come from `npm run bench -- bundled` (the bundled trained SDRO and t2i models, through the
// same functions as the CLI) and `npm run bench -- colorize` (SDRO 512², 20 UniPC steps, SD2.1-sized random
// weights with fan-in scales).
import type { Precision } from '../../graph/int8Lowering.ts';
import { fullStepSchedule, MAX_CACHE_INTERVAL } from '../../sampling/stepCache.ts';

export { MAX_CACHE_INTERVAL };

export const PRECISIONS: readonly Precision[] = ['fp32', 'int8'];

export interface FastModes {
  /** 'int8': quantised image encoder, UNet and VAE. Default 'fp32'. */
  precision?: Precision;
  /** Full UNet every N steps (and the first and last), shallow in between; 1 or absent: off. */
  cacheSteps?: number;
}

/** What each lossy mode was measured to add (see the header); printed beside results. */
export const MEASURED_ERROR: Record<'int8' | 'cacheSteps', string> = {
  int8: 'int8 measured to add 1.5 % UNet output error (SD1.5 512², random weights); final picture vs fp32 on the bundled trained models (npm run bench -- bundled, worst input): colouring 54.2 dB PSNR, txt2img 37.6 dB',
  cacheSteps: 'step caching every 3 steps measured vs uncached on the bundled trained models (npm run bench -- bundled, worst input): colouring 47.7 dB PSNR (every 4 steps: 42.8 dB, every 5: 39.7 dB), txt2img 33.0 dB (its first 40 % of steps kept full); colouring on SD2.1-sized random weights (npm run bench -- colorize, 20 steps): 0.86 % latent error, 48.4 dB image PSNR',
};

/** Notes to show for the lossy modes a request turns on (empty for the exact fp32 path). */
export function fastModeNotes(m: FastModes): string[] {
  const notes: string[] = [];
  if (m.precision === 'int8') notes.push(`lossy mode: ${MEASURED_ERROR.int8}`);
  if ((m.cacheSteps ?? 1) > 1) notes.push(`lossy mode: --cache-steps ${m.cacheSteps}; ${MEASURED_ERROR.cacheSteps}`);
  return notes;
}

/** Throws a clear error for settings no pipeline can honour. */
export function checkFastModes(m: FastModes): void {
  if (m.precision !== undefined && !PRECISIONS.includes(m.precision)) throw new Error(`precision must be one of ${PRECISIONS.join(', ')}, got ${String(m.precision)}`);
  if (m.cacheSteps !== undefined) fullStepSchedule(1, m.cacheSteps);
}
