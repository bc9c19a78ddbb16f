// The opt-in lossy speed modes of model colouring (int8 inference, step caching): their settings, their
// checks, and the error each was measured to add, which the CLI and the node print when a mode is on.
// The numbers come from `npm run bench -- colorize` (SDRO 512², 20 UniPC steps, SD2.1-sized random
// weights with fan-in scales) and the tiny golden SDRO model (src/pipelines/colorize/sdroFastModes.test.ts).
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
  int8: 'int8 measured to add 1.5 % UNet output error (SD1.5 512², random weights) and, over 20 SDRO steps, 1.2 % latent error / 46.7 dB image PSNR vs fp32 (channel-reduced SD models, random weights)',
  cacheSteps: 'step caching every 3 steps measured to add 0.8 % latent error / 50.5 dB image PSNR vs uncached over 20 SDRO steps (channel-reduced SD2.1, random weights; tiny model, 8 steps: 31.7 dB)',
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
