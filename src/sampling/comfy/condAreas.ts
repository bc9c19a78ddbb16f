// Area conditioning as ComfyUI's sampler evaluates it (comfy/samplers.py get_area_and_mult, _calc_cond_batch,
// create_cond_with_same_area_if_none). Each conditioning of a side predicts x0 on its area's crop of x; the
// predictions are blended with a weight mask and divided by the summed weights:
//   out = Σ_k pred_k·mult_k / (1e-37 + Σ_k mult_k)      (per latent element, float32)
// mult_k = strength · feather, where the feather ramps the area's inner edges that do not touch the latent
// border over rr = min(8, side // 4) rows/columns: row t from the edge is scaled by (t + 1) / rr.
// Areas are in latent units (ConditioningSetArea stores pixels // 8), [height, width, y, x].
import { f32 } from './float32.ts';

export interface LatentArea {
  height: number;
  width: number;
  y: number;
  x: number;
}

export class AreaError extends Error {
  override name = 'AreaError';
}

/** The area clamped to a latent of h × w (ComfyUI: size = min(size, side − offset)); refused when nothing is left. */
export function clampArea(a: LatentArea, h: number, w: number): LatentArea {
  const height = Math.min(a.height, h - a.y);
  const width = Math.min(a.width, w - a.x);
  if (height <= 0 || width <= 0) throw new AreaError(`conditioning area ${a.width}×${a.height} at (${a.x}, ${a.y}) (latent units) lies outside the ${w}×${h} latent`);
  return { height, width, y: a.y, x: a.x };
}

/**
 * The [height · width] weight plane of one conditioning: `strength`, feathered on the edges of an area that
 * are inside the latent; no area → strength everywhere (full size).
 */
export function areaWeights(area: LatentArea | undefined, strength: number, h: number, w: number): { area: LatentArea; mult: Float32Array } {
  const a = area ? clampArea(area, h, w) : { height: h, width: w, y: 0, x: 0 };
  const mult = new Float32Array(a.height * a.width).fill(f32(strength));
  if (!area) return { area: a, mult };
  const scaleRow = (r: number, s: number) => {
    for (let c = 0; c < a.width; c++) mult[r * a.width + c] = f32(mult[r * a.width + c] * s);
  };
  const scaleCol = (c: number, s: number) => {
    for (let r = 0; r < a.height; r++) mult[r * a.width + c] = f32(mult[r * a.width + c] * s);
  };
  const rrH = Math.min(8, Math.floor(a.height / 4));
  const rrW = Math.min(8, Math.floor(a.width / 4));
  // Python's (1.0 / rr) * (t + 1) in double, cast to the float32 tensor's type by the in-place multiply.
  const ramp = (rr: number, t: number) => f32((1 / rr) * (t + 1));
  if (a.y !== 0) for (let t = 0; t < rrH; t++) scaleRow(t, ramp(rrH, t));
  if (a.y + a.height < h) for (let t = 0; t < rrH; t++) scaleRow(a.height - 1 - t, ramp(rrH, t));
  if (a.x !== 0) for (let t = 0; t < rrW; t++) scaleCol(t, ramp(rrW, t));
  if (a.x + a.width < w) for (let t = 0; t < rrW; t++) scaleCol(a.width - 1 - t, ramp(rrW, t));
  return { area: a, mult };
}

/** x [N, C, h, w] cut to the area: [N, C, area.height, area.width]. */
export function cropLatent(x: Float32Array, nc: number, h: number, w: number, a: LatentArea): Float32Array {
  if (a.height === h && a.width === w) return x;
  const out = new Float32Array(nc * a.height * a.width);
  for (let p = 0; p < nc; p++) {
    for (let r = 0; r < a.height; r++) {
      const from = p * h * w + (a.y + r) * w + a.x;
      out.set(x.subarray(from, from + a.width), (p * a.height + r) * a.width);
    }
  }
  return out;
}

/** One side's running blend: accumulate each prediction on its area, then divide (ComfyUI's out_conds / out_counts). */
export function createAreaBlend(nc: number, h: number, w: number): {
  add(pred: Float32Array, area: LatentArea, mult: Float32Array): void;
  result(): Float32Array;
} {
  const out = new Float32Array(nc * h * w);
  const count = new Float32Array(nc * h * w).fill(1e-37);
  return {
    add(pred, a, mult) {
      for (let p = 0; p < nc; p++) {
        for (let r = 0; r < a.height; r++) {
          for (let c = 0; c < a.width; c++) {
            const i = p * h * w + (a.y + r) * w + a.x + c;
            const m = mult[r * a.width + c];
            out[i] = f32(out[i] + f32(pred[(p * a.height + r) * a.width + c] * m));
            count[i] = f32(count[i] + m);
          }
        }
      }
    },
    result() {
      for (let i = 0; i < out.length; i++) out[i] = f32(out[i] / count[i]);
      return out;
    },
  };
}

export interface AreaCond {
  area?: LatentArea;
  strength?: number;
}

const sameArea = (a: LatentArea, b: LatentArea) => a.height === b.height && a.width === b.width && a.y === b.y && a.x === b.x;

/** Is area `inner` inside `outer` (offsets not before it, ends not after it)? */
function areaInside(inner: LatentArea, outer: LatentArea): boolean {
  return inner.y >= outer.y && inner.x >= outer.x && inner.y + inner.height <= outer.y + outer.height && inner.x + inner.width <= outer.x + outer.width;
}

/**
 * ComfyUI's "make sure each cond area has an opposite one with the same area": for every conditioning with an
 * area, the other side gets a copy of its smallest conditioning covering that area (a full-image one if none
 * is smaller) restricted to the same area and strength — unless one with exactly that area exists. Sides are
 * visited positive first, each list including what was appended to it. `withArea(source, model)` makes the
 * copy: `source`'s area and strength with `model`'s prompt.
 */
export function addOppositeAreas<T extends AreaCond>(sides: T[][], withArea: (source: T, model: T) => T): void {
  for (let k = 0; k < sides.length; k++) {
    for (let i = 0; i < sides[k].length; i++) {
      const c = sides[k][i];
      if (!c.area) continue;
      for (let kk = 0; kk < sides.length; kk++) {
        if (kk === k) continue;
        let smallest: T | undefined;
        for (const x of sides[kk]) {
          if (x.area) {
            if (!areaInside(c.area, x.area)) continue;
            if (!smallest || !smallest.area || smallest.area.height * smallest.area.width > x.area.height * x.area.width) smallest = x;
          } else if (!smallest) smallest = x;
        }
        if (!smallest || (smallest.area && sameArea(smallest.area, c.area))) continue;
        sides[kk].push(withArea(c, smallest));
      }
    }
  }
}
