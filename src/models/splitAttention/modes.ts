// ColorizeDiffusion's switchable inference modes (arXiv 2502.19937): which parts of the split cross-attention
// run. The modes only switch modules on and off, so one set of weights serves all three.
//   vanilla  plain cross-attention on the reference tokens: no sketch mask, no LoRA
//   bg2fig   split attention (sketch mask > ts_s → foreground branch), foreground LoRA only
//   fig2fig  split attention with both the foreground and the background LoRA
export const COLORIZE_MODES = ['vanilla', 'bg2fig', 'fig2fig'] as const;
export type ColorizeMode = (typeof COLORIZE_MODES)[number];

export interface ModeFlags {
  /** Split the cross-attention into foreground/background branches selected by the sketch mask. */
  split: boolean;
  fgLora: boolean;
  bgLora: boolean;
}

export function modeFlags(mode: ColorizeMode): ModeFlags {
  switch (mode) {
    case 'vanilla':
      return { split: false, fgLora: false, bgLora: false };
    case 'bg2fig':
      return { split: true, fgLora: true, bgLora: false };
    case 'fig2fig':
      return { split: true, fgLora: true, bgLora: true };
    default:
      throw new Error(`unknown ColorizeDiffusion mode "${String(mode)}" (expected ${COLORIZE_MODES.join(', ')})`);
  }
}

export function parseColorizeMode(s: string): ColorizeMode {
  const m = s.toLowerCase();
  if ((COLORIZE_MODES as readonly string[]).includes(m)) return m as ColorizeMode;
  throw new Error(`unknown ColorizeDiffusion mode "${s}" (expected ${COLORIZE_MODES.join(', ')})`);
}
