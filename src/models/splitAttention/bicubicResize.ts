// The sketch mask reaches every attention resolution through torch.nn.functional.interpolate(mode="bicubic",
// align_corners=False) in the original (refnet/modules/lora.py, masked_forward). A resize between fixed sizes
// is linear, so it is two MatMuls with constant matrices: out = R_h · mask · R_wᵀ. torch's kernel, per axis:
//   src = scale·(dst + ½) − ½ (not clamped for cubic), i = ⌊src⌋, t = src − i,
//   weights of taps i−1, i, i+1, i+2 = K(t+1), K(t), K(1−t), K(2−t) with Keys' cubic, A = −0.75,
//   tap indices clamped to [0, in−1] (edge pixels repeat).
// scale = in/out. The original passes scale_factor 2^−level, whose reciprocal equals in/out whenever the
// latent side is divisible by 2^level; for other sides the original's floor(in·factor) disagrees with the
// UNet's ceil-sized feature maps (it would fail), and we resize to the feature map's actual size instead.
import type { Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';

const A = -0.75;

/** Keys' cubic for |x| ≤ 1. */
const near = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1;
/** Keys' cubic for 1 < |x| < 2. */
const far = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;

/** The [outSize, inSize] matrix of a 1-D bicubic resize (row = output sample). */
export function bicubicMatrix(inSize: number, outSize: number): Float32Array {
  if (!Number.isInteger(inSize) || !Number.isInteger(outSize) || inSize < 1 || outSize < 1) {
    throw new Error(`bicubicMatrix: sizes must be positive integers, got ${inSize} → ${outSize}`);
  }
  const m = new Float64Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const src = scale * (o + 0.5) - 0.5;
    const i = Math.floor(src);
    const t = src - i;
    const w = [far(t + 1), near(t), near(1 - t), far(2 - t)];
    for (let k = 0; k < 4; k++) {
      const idx = Math.min(Math.max(i - 1 + k, 0), inSize - 1);
      m[o * inSize + idx] += w[k];
    }
  }
  return Float32Array.from(m);
}

/** Bicubic resize of `x` [..., H, W] to [..., outH, outW]; the identity (no nodes) at the same size. */
export function resizeBicubic(x: Tensor, outH: number, outW: number): Tensor {
  const r = x.shape.length;
  if (r < 2) throw new Error(`resizeBicubic: input needs rank ≥ 2, got [${x.shape.join(',')}]`);
  const [h, w] = x.shape.slice(-2);
  let y = x;
  if (outH !== h) y = op.matmul(op.constant(x, bicubicMatrix(h, outH), [outH, h]), y);
  if (outW !== w) {
    const rw = bicubicMatrix(w, outW); // [outW, w] → transposed to [w, outW]
    const t = new Float32Array(w * outW);
    for (let o = 0; o < outW; o++) for (let i = 0; i < w; i++) t[i * outW + o] = rw[o * w + i];
    y = op.matmul(y, op.constant(x, t, [w, outW]));
  }
  return y;
}

/** The same resize on host data: `planes` [N, H, W] (row-major) → [N, outH, outW], in float64 then rounded. */
export function resizeBicubicHost(planes: Float32Array, h: number, w: number, outH: number, outW: number): Float32Array {
  const n = planes.length / (h * w);
  if (!Number.isInteger(n)) throw new Error(`resizeBicubicHost: ${planes.length} values are not planes of ${h}×${w}`);
  const rh = bicubicMatrix(h, outH);
  const rw = bicubicMatrix(w, outW);
  const out = new Float32Array(n * outH * outW);
  const rows = new Float64Array(outH * w);
  for (let p = 0; p < n; p++) {
    const src = planes.subarray(p * h * w, (p + 1) * h * w);
    rows.fill(0);
    for (let o = 0; o < outH; o++) for (let i = 0; i < h; i++) {
      const k = rh[o * h + i];
      if (k !== 0) for (let x = 0; x < w; x++) rows[o * w + x] += k * src[i * w + x];
    }
    for (let o = 0; o < outH; o++) for (let q = 0; q < outW; q++) {
      let acc = 0;
      for (let x = 0; x < w; x++) acc += rows[o * w + x] * rw[q * w + x];
      out[p * outH * outW + o * outW + q] = acc;
    }
  }
  return out;
}
