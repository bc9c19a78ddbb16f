// Tiled VAE decode: a large latent is cut into overlapping tiles of one fixed size (so one compiled
// decoder serves every tile), each tile is decoded alone, and the decoded tiles are averaged with weights
// that ramp linearly across each overlap, which hides seams. Peak memory is that of one tile's decode
// (the mid-block attention is quadratic in tile area) plus the output image.
// GroupNorm statistics are per tile, so tiles differ slightly from a whole decode; the overlap and ramps
// keep that difference smooth.

export interface TileOptions {
  /** Tile side in latent pixels (default 64 = 512 px for SD). */
  tile?: number;
  /** Minimum overlap between neighbouring tiles in latent pixels (default 16). */
  overlap?: number;
}

export class TiledDecodeError extends Error {
  override name = 'TiledDecodeError';
}

/** Start offsets of tiles of `tile` cells covering `length` with at least `overlap` shared cells. */
export function planTiles(length: number, tile: number, overlap: number): number[] {
  if (!Number.isInteger(tile) || tile <= 0) throw new TiledDecodeError(`tile size must be a positive integer, got ${tile}`);
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= tile) throw new TiledDecodeError(`overlap must be an integer in [0, ${tile}), got ${overlap}`);
  if (length <= tile) return [0];
  const n = Math.ceil((length - tile) / (tile - overlap)) + 1;
  // Spread the tiles evenly so every overlap is at least `overlap` and the last tile ends at `length`.
  return Array.from({ length: n }, (_, i) => Math.round((i * (length - tile)) / (n - 1)));
}

/** Weight of position `i` in a tile of `size` cells: ramps up over `ramp` cells at edges shared with a neighbour. */
function edgeWeights(size: number, ramp: number, rampStart: boolean, rampEnd: boolean): Float32Array {
  const w = new Float32Array(size).fill(1);
  for (let i = 0; i < size; i++) {
    if (rampStart && i < ramp) w[i] = Math.min(w[i], (i + 0.5) / ramp);
    if (rampEnd && size - 1 - i < ramp) w[i] = Math.min(w[i], (size - 1 - i + 0.5) / ramp);
  }
  return w;
}

export interface TiledDecodeSpec {
  /** Latents, NCHW. */
  readonly shape: readonly [number, number, number, number];
  readonly data: Float32Array;
  /** Image pixels per latent pixel. */
  readonly scale: number;
  readonly outChannels: number;
}

/**
 * Decodes `spec` tile by tile with `decodeTile` (called with latents of one fixed shape
 * [B, C, th, tw]; returns [B, outChannels, th·scale, tw·scale]) and blends the results.
 */
export async function decodeTiled(
  spec: TiledDecodeSpec,
  decodeTile: (data: Float32Array, shape: readonly [number, number, number, number]) => Promise<Float32Array>,
  opts: TileOptions = {},
): Promise<{ shape: [number, number, number, number]; data: Float32Array }> {
  const [b, c, h, w] = spec.shape;
  if (spec.data.length !== b * c * h * w) throw new TiledDecodeError(`latents have ${spec.data.length} values, shape [${spec.shape.join(',')}] needs ${b * c * h * w}`);
  const tile = opts.tile ?? 64;
  const overlap = opts.overlap ?? 16;
  const th = Math.min(tile, h);
  const tw = Math.min(tile, w);
  const ys = planTiles(h, th, Math.min(overlap, th - 1));
  const xs = planTiles(w, tw, Math.min(overlap, tw - 1));
  const s = spec.scale;
  const oc = spec.outChannels;
  const H = h * s;
  const W = w * s;
  const ramp = Math.max(1, overlap * s);
  const acc = new Float32Array(b * oc * H * W);
  const wsum = new Float32Array(H * W);
  const tileLatent = new Float32Array(b * c * th * tw);
  for (const y0 of ys) {
    for (const x0 of xs) {
      for (let n = 0; n < b * c; n++) {
        for (let y = 0; y < th; y++) {
          const src = (n * h + y0 + y) * w + x0;
          tileLatent.set(spec.data.subarray(src, src + tw), (n * th + y) * tw);
        }
      }
      const out = await decodeTile(tileLatent, [b, c, th, tw]);
      const ph = th * s;
      const pw = tw * s;
      if (out.length !== b * oc * ph * pw) throw new TiledDecodeError(`tile decoder returned ${out.length} values, expected ${b * oc * ph * pw}`);
      const wy = edgeWeights(ph, ramp, y0 > 0, y0 + th < h);
      const wx = edgeWeights(pw, ramp, x0 > 0, x0 + tw < w);
      const py0 = y0 * s;
      const px0 = x0 * s;
      for (let y = 0; y < ph; y++) {
        for (let x = 0; x < pw; x++) {
          const wt = wy[y] * wx[x];
          const pix = (py0 + y) * W + px0 + x;
          wsum[pix] += wt;
          for (let n = 0; n < b * oc; n++) acc[n * H * W + pix] += wt * out[(n * ph + y) * pw + x];
        }
      }
    }
  }
  for (let n = 0; n < b * oc; n++) {
    for (let pix = 0; pix < H * W; pix++) acc[n * H * W + pix] /= wsum[pix];
  }
  return { shape: [b, oc, H, W], data: acc };
}
