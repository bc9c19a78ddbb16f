// ComfyUI's prompt-weight rule (ClipTokenWeightEncoder.encode_token_weights): a weighted token's
// hidden state is pushed away from (w > 1) or towards (w < 1) the empty prompt's state at the same position:
//   z' = (z − z_empty)·w + z_empty
// Tokens with weight exactly 1 are copied untouched (ComfyUI skips them), so an unweighted prompt is
// bit-identical to plain encoding.

/**
 * z: [windows, tokens, hidden] (one or more consecutive windows); zEmpty: [tokens, hidden], the
 * encoded empty prompt; weights: [windows, tokens]. Returns a new array; inputs are not modified.
 * Arithmetic is rounded to float32 after each step, like torch on float32 tensors.
 */
export function applyTokenWeights(
  z: Float32Array,
  zEmpty: Float32Array,
  weights: ArrayLike<number>,
  tokens: number,
  hidden: number,
): Float32Array {
  if (!Number.isInteger(tokens) || !Number.isInteger(hidden) || tokens < 1 || hidden < 1) {
    throw new Error(`applyTokenWeights: tokens and hidden must be positive integers, got ${tokens}, ${hidden}`);
  }
  const window = tokens * hidden;
  if (zEmpty.length !== window) throw new Error(`applyTokenWeights: zEmpty has ${zEmpty.length} values, expected tokens×hidden = ${window}`);
  if (z.length === 0 || z.length % window !== 0) throw new Error(`applyTokenWeights: z has ${z.length} values, not a multiple of tokens×hidden = ${window}`);
  if (weights.length * hidden !== z.length) throw new Error(`applyTokenWeights: ${weights.length} weights for ${z.length / hidden} token positions`);
  const f = Math.fround;
  const out = new Float32Array(z);
  for (let t = 0; t < weights.length; t++) {
    const w = weights[t];
    if (w === 1.0) continue;
    if (!Number.isFinite(w)) throw new Error(`applyTokenWeights: weight ${w} at position ${t} is not finite`);
    const w32 = f(w);
    const base = t * hidden;
    const emptyBase = (t % tokens) * hidden;
    for (let h = 0; h < hidden; h++) {
      const e = zEmpty[emptyBase + h];
      out[base + h] = f(f(f(z[base + h] - e) * w32) + e);
    }
  }
  return out;
}
