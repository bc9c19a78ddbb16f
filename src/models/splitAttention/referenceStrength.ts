// The original's per-attention "reference strength" (refnet/models/basemodel.py adjust_reference_scale, the
// demo's set_cas_scales): every attn2 block keeps a reference_scale that multiplies its attention output.
// The demo sets them in one of three ways:
//   a number                 every block
//   a list                   one per block, in module order (the "accurate crossattn control" sliders)
//   levels {encoder, middle, low}   (the default) applied in that order to fixed block indices of the
//                            16-attention SD layout: encoder 0–5, then middle 2, 3, 10, 11, 12, then low 4, 5,
//                            7, 8, 9. Blocks 6 (middle of the UNet) and 13–15 (the last decoder level) are not
//                            touched: they keep whatever an earlier call set (1 in a fresh process).
// The original keeps this state on the model between calls; inkflow starts every call from `previous`
// (all 1 unless given), so a call never inherits an earlier one's strengths.
export interface ReferenceStrengthLevels {
  encoder?: number;
  middle?: number;
  low?: number;
}

export type ReferenceStrength = number | readonly number[] | { levels: ReferenceStrengthLevels };

const LEVEL_BLOCKS: Record<keyof ReferenceStrengthLevels, readonly number[]> = {
  encoder: [0, 1, 2, 3, 4, 5],
  middle: [2, 3, 10, 11, 12],
  low: [4, 5, 7, 8, 9],
};

/** Per-block reference scales after applying `strength` to `previous` (length = the UNet's attn2 count). */
export function referenceScales(strength: ReferenceStrength, blocks: number, previous?: readonly number[]): number[] {
  const out = previous ? [...previous] : new Array<number>(blocks).fill(1);
  if (out.length !== blocks) throw new Error(`reference strength: ${out.length} previous scales for ${blocks} cross-attentions`);
  if (typeof strength === 'number') return out.fill(strength);
  if (Array.isArray(strength)) {
    if (strength.length !== blocks) throw new Error(`reference strength: ${strength.length} values for ${blocks} cross-attentions`);
    return [...strength];
  }
  const levels = (strength as { levels: ReferenceStrengthLevels }).levels;
  if (blocks !== 16) throw new Error(`reference strength by level needs the 16-attention SD layout, this UNet has ${blocks}`);
  for (const key of ['encoder', 'middle', 'low'] as const) {
    const v = levels[key];
    if (v !== undefined) for (const i of LEVEL_BLOCKS[key]) out[i] = v;
  }
  return out;
}
