// VAE output [1,3,H,W] in [−1,1] → 8-bit RGB, as diffusers postprocesses it: (x/2 + 0.5).clamp(0,1) in float32,
// then numpy's (x*255).round() (round half to even) to uint8, HWC.
import { createImage, type Image } from '../../imaging/image.ts';
import { assertFinite } from '../../sampling/finiteCheck.ts';

const f32 = Math.fround;

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function decodedToImage(decoded: Float32Array, shape: readonly number[]): Image {
  if (shape.length !== 4 || shape[0] !== 1 || shape[1] !== 3) throw new Error(`decodedToImage: expected [1,3,H,W], got [${shape.join(',')}]`);
  const [, , h, w] = shape;
  if (decoded.length !== 3 * h * w) throw new Error(`decodedToImage: ${decoded.length} values for [${shape.join(',')}]`);
  // NaN would become black pixels and a "successful" run: fail instead, naming the stage.
  assertFinite(decoded, 'VAE decode: decoded image');
  const img = createImage(w, h, 3);
  const plane = h * w;
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < plane; i++) {
      let v = f32(f32(decoded[c * plane + i] / 2) + 0.5);
      v = v < 0 ? 0 : v > 1 ? 1 : v; // NaN stays NaN and becomes 0 below, as numpy's cast does in practice
      const x = roundHalfEven(f32(v * 255));
      img.data[i * 3 + c] = Number.isFinite(x) ? x : 0;
    }
  }
  return img;
}
