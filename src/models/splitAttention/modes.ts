// ColorizeDiffusion's switchable inference modes: the two check boxes of the original demo ("FG enhance" and
// "BG enhance", refnet/models/switch.py prepare_conditions) switch parts of the split cross-attention on, so
// one set of weights serves all four. What each mode feeds the UNet (e = reference local tokens,
// th = threshold embedding, T = background transformer, bgref = reference with its foreground painted white):
//   vanilla     context e; plain cross-attention, no sketch mask, LoRA off
//   fg_enhance  context [e, e]; split attention, foreground LoRA only            (the paper's Bg2Fig)
//   bg_enhance  context [e + th(ts_s), T(local(bgref) + th(ts_r))]; background LoRA only
//   fig2fig     that context twice; both LoRAs                                  (the paper's Fig2Fig)
// Split attention chunks the context into two halves along the tokens (torch.chunk: the first half takes
// the odd token), foreground branch on the first, background branch on the second. In bg_enhance the two
// halves are therefore NOT "e" and "background" when their lengths differ: that is the original's behaviour.
export const COLORIZE_MODES = ['vanilla', 'fg_enhance', 'bg_enhance', 'fig2fig'] as const;
export type ColorizeMode = (typeof COLORIZE_MODES)[number];

/** Older inkflow names accepted on input. */
const ALIASES: Record<string, ColorizeMode> = { bg2fig: 'fg_enhance', fg: 'fg_enhance', bg: 'bg_enhance' };

export interface ModeFlags {
  /** Split the cross-attention into foreground/background branches selected by the sketch mask. */
  split: boolean;
  fgLora: boolean;
  bgLora: boolean;
  /** The context includes the background transformer's tokens (bg_enhance in the original). */
  backgroundTokens: boolean;
  /** The context is repeated twice along the tokens (fg_enhance in the original). */
  repeatContext: boolean;
}

export function modeFlags(mode: ColorizeMode): ModeFlags {
  switch (mode) {
    case 'vanilla':
      return { split: false, fgLora: false, bgLora: false, backgroundTokens: false, repeatContext: false };
    case 'fg_enhance':
      return { split: true, fgLora: true, bgLora: false, backgroundTokens: false, repeatContext: true };
    case 'bg_enhance':
      return { split: true, fgLora: false, bgLora: true, backgroundTokens: true, repeatContext: false };
    case 'fig2fig':
      return { split: true, fgLora: true, bgLora: true, backgroundTokens: true, repeatContext: true };
    default:
      throw new Error(`unknown ColorizeDiffusion mode "${String(mode)}" (expected ${COLORIZE_MODES.join(', ')})`);
  }
}

export function parseColorizeMode(s: string): ColorizeMode {
  const m = s.toLowerCase().replace(/-/g, '_');
  if ((COLORIZE_MODES as readonly string[]).includes(m)) return m as ColorizeMode;
  if (ALIASES[m]) return ALIASES[m];
  throw new Error(`unknown ColorizeDiffusion mode "${s}" (expected ${COLORIZE_MODES.join(', ')}; bg2fig = fg_enhance)`);
}
