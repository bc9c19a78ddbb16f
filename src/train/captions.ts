// Caption augmentation as kohya's sd-scripts does it: with probability `dropout` the caption becomes
// empty (unconditional training); with `shuffle` the comma-separated tags after the first
// `keepTokens` are shuffled each time the image is drawn.
import type { TrainRng } from './trainRng.ts';

export interface CaptionOptions {
  shuffle?: boolean;
  keepTokens?: number;
  dropout?: number;
}

export function augmentCaption(caption: string, rng: TrainRng, opts: CaptionOptions): string {
  // Draw the dropout decision every time so the rng stream does not depend on the caption.
  const drop = rng.uniform() < (opts.dropout ?? 0);
  if (drop) return '';
  if (!opts.shuffle) return caption;
  const tags = caption.split(',').map((t) => t.trim()).filter(Boolean);
  const keep = Math.max(0, opts.keepTokens ?? 0);
  const rest = tags.slice(keep);
  for (let i = rest.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [rest[i], rest[j]] = [rest[j], rest[i]];
  }
  return [...tags.slice(0, keep), ...rest].join(', ');
}
