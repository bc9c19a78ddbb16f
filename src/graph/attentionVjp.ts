// Attention's own reverse rule. The forward stays the fused kernel (MultiHeadAttention); the backward
// recomputes the probabilities — as flash-attention's backward does — instead of keeping
// [B, heads, S, L] from the forward, and does so a group of heads at a time, so the transient score
// matrices stay under `maxElements` (SD1.5's 64² self-attention: 8 × 4096² floats = 512 MB per
// tensor at once, 64 MB per head). Per head group, with P = softmax(s·QKᵀ), output O = P V and
// output gradient G:
//   dV = Pᵀ G;  dP = G Vᵀ;  dS = s · P ⊙ (dP − D);  dQ = dS K;  dK = dSᵀ Q
// where D = Σ_L dP ⊙ P = Σ_d G ⊙ O (flash-attention's identity) is read off the [S, d] output instead
// of a pass over the [S, L] matrix, and s scales the [·, d] products rather than dS: the score-sized
// tensors see only the matmuls, the softmax, one Sub and one Mul (one 64² self-attention, 320 wide,
// 8 heads, forward + backward: 1698 → 1401 CPU-ms at load 13).
import type { Attrs, Tensor } from './graph.ts';
import * as op from './ops.ts';

/** Default bound on B·heads·S·L elements of one head group's score matrix (2^25 floats = 128 MB). */
export const ATTENTION_CHUNK_ELEMENTS = 2 ** 25;

/** Heads per group so one group's scores have at most `maxElements` elements (at least one head, dividing `heads`). */
export function headsPerGroup(batch: number, heads: number, s: number, l: number, maxElements: number): number {
  let n = heads;
  while (n > 1 && (batch * n * s * l > maxElements || heads % n !== 0)) n--;
  return n;
}

/** Packed [B, T, H·d] → [B, H, T, d] for heads [h0, h1). */
function heads(x: Tensor, h0: number, h1: number, d: number): Tensor {
  const [b, t] = x.shape;
  const part = h1 - h0 === x.shape[2] / d ? x : op.slice(x, [2], [h0 * d], [h1 * d]);
  return op.transpose(op.reshape(part, [b, t, h1 - h0, d]), [0, 2, 1, 3]);
}

/** [B, H, T, d] → packed [B, T, H·d]. */
function packed(x: Tensor): Tensor {
  const [b, h, t, d] = x.shape;
  return op.reshape(op.transpose(x, [0, 2, 1, 3]), [b, t, h * d]);
}

const swapLast = (x: Tensor) => op.transpose(x, [0, 1, 3, 2]);

export function attentionVjp(inputs: readonly Tensor[], output: Tensor, grad: Tensor, attrs: Attrs, wants: readonly boolean[], maxElements = ATTENTION_CHUNK_ELEMENTS): (Tensor | undefined)[] {
  const [q, k, v] = inputs;
  const h = attrs.heads as number;
  const scale = attrs.scale as number;
  const [b, s, dq] = q.shape;
  const l = k.shape[1];
  const dh = dq / h;
  const dvh = v.shape[2] / h;
  const group = headsPerGroup(b, h, s, l, maxElements);
  const dQs: Tensor[] = [];
  const dKs: Tensor[] = [];
  const dVs: Tensor[] = [];
  for (let h0 = 0; h0 < h; h0 += group) {
    const h1 = h0 + group;
    const qh = heads(q, h0, h1, dh);
    const kh = heads(k, h0, h1, dh);
    const vh = heads(v, h0, h1, dvh);
    const gh = heads(grad, h0, h1, dvh);
    const p = op.softmax(op.mul(op.matmul(qh, swapLast(kh)), scale), -1);
    if (wants[2]) dVs.push(packed(op.matmul(swapLast(p), gh)));
    if (wants[0] || wants[1]) {
      const rowDot = op.reduceSum(op.mul(gh, heads(output, h0, h1, dvh)), [-1], true);
      const dsUnscaled = op.mul(p, op.sub(op.matmul(gh, swapLast(vh)), rowDot));
      if (wants[0]) dQs.push(packed(op.mul(op.matmul(dsUnscaled, kh), scale)));
      if (wants[1]) dKs.push(packed(op.mul(op.matmul(swapLast(dsUnscaled), qh), scale)));
    }
  }
  return [wants[0] ? op.concat(dQs, 2) : undefined, wants[1] ? op.concat(dKs, 2) : undefined, wants[2] ? op.concat(dVs, 2) : undefined];
}
