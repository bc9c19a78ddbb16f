// Attention's own reverse rule, flash-attention style. The forward stays the fused kernel
// (MultiHeadAttention); the backward recomputes the probabilities instead of keeping [B, heads, S, L]
// from the forward, in blocks of heads and query rows whose score matrix holds at most `maxElements`
// floats (a softmax over whole rows is exact, so nothing but the output is saved from the forward).
// Per block of rows r, with P = softmax(s·Q Kᵀ), output O = P V and output gradient G:
//   dVᵀ += G_rᵀ P_r;  dP_r = G_r Vᵀ;  dS_r = P_r ⊙ (dP_r − D_r);  dQ_r = s · dS_r K;  dKᵀ += s · Q_rᵀ dS_r
// where D = Σ_L dP ⊙ P = Σ_d G ⊙ O (flash-attention's identity) is read off the [S, d] output instead
// of a pass over the [S, L] matrix, and s is applied to the [·, d] operands (Q before the scores, dQ
// after) rather than to a score-sized tensor. dK and dV sum over the row blocks, and are built
// transposed so the score-sized operand is never transposed: Pᵀ G as a transposed-A product took
// 1.5× the time per FLOP of Q Kᵀ at SD1.5's head width 40 on one thread, and at the tiny UNet's width 4
// 2.8× the forward attention against 1.4× for Gᵀ P (bench/trainProfile.ts, by op and shape, load 10–15).
// Block size: 4 MB blocks (2^20, 256 rows of one head at 64²) keep the elementwise ops in cache (their
// time halves) and save 1 GB of peak memory on the sd15-top-narrow proxy, but on two threads the 16×
// more, smaller matmuls ran slower than the elementwise ops gained (64² attention backward 6.8× its
// forward vs 4.7×, load 13–18); so the default is SD1.5 64²'s two-head groups of whole rows (128 MB),
// and rows are split only where one head's scores exceed that (16384-token attention at 1024²).
// Re-measured with no other process on the CPU (attn-64, 2 threads, fastest of 5): 2^22, 2^23, 2^24 and
// 2^25 all take 461–481 ms per step; in the whole SD1.5 512² LoRA step 2^22 left the 64² attention's
// share of the step unchanged (3.84× vs 3.71–3.73× its forward) and peak RSS too (7.36 vs 7.28 GB).
// Tried and dropped: a transposed backward (scores Lᵀ×S, P = exp([K, 1]·[s·Qᵀ; −lse]) with the
// forward's log-sum-exp, so dV = Pᵀ G and dK = dSᵀ Q become the fast form and only dQᵀ = Kᵀ dSᵀ the
// slow one, and no Softmax) was 17% slower than this even with the log-sum-exp given for free:
// ORT's Exp pass is slower than its Softmax (11.5 vs 8.2 ms per 2×4096² block) and Kᵀ dSᵀ ran as a
// transposed-A product at 33 ms against 20 for dS K (attn-64, same conditions).
import type { Attrs, Tensor } from './graph.ts';
import * as op from './ops.ts';

/** Default bound on the elements of one block's score matrix (2^25 floats = 128 MB); see the measurements above. */
export const ATTENTION_CHUNK_ELEMENTS = 2 ** 25;

export interface AttentionBlocks {
  /** Heads per block (divides `heads`). */
  heads: number;
  /** Query rows per block (the last block of a head group may have fewer). */
  rows: number;
}

/**
 * How to cut B·heads·S·L into blocks of at most `maxElements` scores: whole heads while even one head
 * fits (fewer, larger matmuls), otherwise one head and as many rows as fit (at least one).
 */
export function attentionBlocks(batch: number, heads: number, s: number, l: number, maxElements: number): AttentionBlocks {
  let n = heads;
  while (n > 1 && (batch * n * s * l > maxElements || heads % n !== 0)) n--;
  const rows = Math.max(1, Math.min(s, Math.floor(maxElements / (batch * n * l))));
  return { heads: n, rows };
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
const rowsOf = (x: Tensor, r0: number, r1: number) => (r0 === 0 && r1 === x.shape[2] ? x : op.slice(x, [2], [r0], [r1]));
const plus = (sum: Tensor | undefined, x: Tensor) => (sum ? op.add(sum, x) : x);

export function attentionVjp(inputs: readonly Tensor[], output: Tensor, grad: Tensor, attrs: Attrs, wants: readonly boolean[], maxElements = ATTENTION_CHUNK_ELEMENTS): (Tensor | undefined)[] {
  const [q, k, v] = inputs;
  const h = attrs.heads as number;
  const scale = attrs.scale as number;
  const [b, s, dq] = q.shape;
  const l = k.shape[1];
  const dh = dq / h;
  const dvh = v.shape[2] / h;
  const block = attentionBlocks(b, h, s, l, maxElements);
  const wantsScores = wants[0] || wants[1];
  const dQs: Tensor[] = [];
  const dKs: Tensor[] = [];
  const dVs: Tensor[] = [];
  for (let h0 = 0; h0 < h; h0 += block.heads) {
    const h1 = h0 + block.heads;
    const qs = op.mul(heads(q, h0, h1, dh), scale);
    const kh = heads(k, h0, h1, dh);
    const kT = swapLast(kh);
    const vT = swapLast(heads(v, h0, h1, dvh));
    const gh = heads(grad, h0, h1, dvh);
    const gT = swapLast(gh);
    const qsT = swapLast(qs);
    // dP − D as one product: [G, D]·[Vᵀ; −1] (K = d+1) instead of a Sub pass over the score block.
    const rowDot = wantsScores ? op.reduceSum(op.mul(gh, heads(output, h0, h1, dvh)), [-1], true) : undefined;
    const gD = rowDot ? op.concat([gh, rowDot], 3) : undefined;
    const vTm1 = rowDot ? op.concat([vT, op.expand(op.constant(vT, [-1], [], vT.dtype), [b, h1 - h0, 1, l])], 2) : undefined;
    const dQrows: Tensor[] = [];
    let dKT: Tensor | undefined;
    let dVT: Tensor | undefined;
    for (let r0 = 0; r0 < s; r0 += block.rows) {
      const r1 = Math.min(s, r0 + block.rows);
      const qr = rowsOf(qs, r0, r1);
      const cols = (x: Tensor) => (r0 === 0 && r1 === s ? x : op.slice(x, [3], [r0], [r1]));
      const p = op.softmax(op.matmul(qr, kT), -1);
      if (wants[2]) dVT = plus(dVT, op.matmul(cols(gT), p));
      if (!wantsScores) continue;
      const ds = op.mul(p, op.matmul(rowsOf(gD!, r0, r1), vTm1!));
      if (wants[0]) dQrows.push(op.matmul(ds, kh));
      if (wants[1]) dKT = plus(dKT, op.matmul(cols(qsT), ds));
    }
    if (wants[0]) dQs.push(packed(op.mul(dQrows.length === 1 ? dQrows[0] : op.concat(dQrows, 2), scale)));
    if (dKT) dKs.push(packed(swapLast(dKT)));
    if (dVT) dVs.push(packed(swapLast(dVT)));
  }
  return [wants[0] ? op.concat(dQs, 2) : undefined, wants[1] ? op.concat(dKs, 2) : undefined, wants[2] ? op.concat(dVs, 2) : undefined];
}
