// diffusers `Timesteps` (sinusoidal projection) and `TimestepEmbedding` (linear_1 → SiLU → linear_2).
import type { Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import * as nn from '../../graph/nn.ts';

/**
 * The frequencies of diffusers' get_timestep_embedding, rounded the way torch computes them in float32:
 * exponent = f32(−ln(max_period)) · i / (half − shift), freq = exp(exponent).
 */
export function timestepFrequencies(dim: number, freqShift: number, maxPeriod = 10000): Float32Array {
  const half = Math.floor(dim / 2);
  const out = new Float32Array(half);
  const lnMax = Math.fround(-Math.log(maxPeriod));
  const denom = Math.fround(half - freqShift);
  for (let i = 0; i < half; i++) out[i] = Math.exp(Math.fround(Math.fround(lnMax * i) / denom));
  return out;
}

/**
 * Timesteps(dim, flip_sin_to_cos, downscale_freq_shift): t [B] (float) → [B, dim]:
 * emb = t·freq; [sin, cos] (or [cos, sin] when flipped); odd dims are zero-padded.
 */
export function timestepProjection(t: Tensor, dim: number, flipSinToCos: boolean, freqShift: number): Tensor {
  if (t.shape.length !== 1) throw new Error(`timestepProjection: timesteps must be [B], got [${t.shape.join(',')}]`);
  const freqs = timestepFrequencies(dim, freqShift);
  const half = freqs.length;
  const args = op.mul(op.reshape(t, [t.shape[0], 1]), op.constant(t, freqs, [1, half]));
  const sin = op.sin(args);
  const cos = op.cos(args);
  let emb = op.concat(flipSinToCos ? [cos, sin] : [sin, cos], 1);
  if (dim % 2 === 1) emb = op.concat([emb, op.constant(t, new Float32Array(t.shape[0]), [t.shape[0], 1])], 1);
  return emb;
}

/** TimestepEmbedding(inDim, outDim) with SiLU: params linear_1, linear_2 in the current scope. */
export function timestepEmbedding(x: Tensor, inDim: number, outDim: number): Tensor {
  return nn.linear(nn.silu(nn.linear(x, 'linear_1', inDim, outDim)), 'linear_2', outDim, outDim);
}
