// Hard-edged polygon rasterisation into a label map (no canvas dependency). Every shape of the synthetic
// figures is turned into a polygon first; the fill samples pixel centres, so a pixel belongs to exactly
// one part and the ground-truth colours stay exactly flat.

export type Point = readonly [number, number];
export type Polygon = Point[];

/** Affine map x' = a·x + c·y + e, y' = b·x + d·y + f (the SVG/canvas matrix layout). */
export interface Affine {
  a: number; b: number; c: number; d: number; e: number; f: number;
}

export const IDENTITY: Affine = { a: 1, b: 0, c: 0, d: 1, e: 0, f: 0 };

/** m1 ∘ m2: apply m2 first, then m1. */
export function compose(m1: Affine, m2: Affine): Affine {
  return {
    a: m1.a * m2.a + m1.c * m2.b,
    b: m1.b * m2.a + m1.d * m2.b,
    c: m1.a * m2.c + m1.c * m2.d,
    d: m1.b * m2.c + m1.d * m2.d,
    e: m1.a * m2.e + m1.c * m2.f + m1.e,
    f: m1.b * m2.e + m1.d * m2.f + m1.f,
  };
}

export function translate(x: number, y: number): Affine {
  return { a: 1, b: 0, c: 0, d: 1, e: x, f: y };
}

export function rotate(radians: number): Affine {
  const cos = Math.cos(radians);
  const sin = Math.sin(radians);
  return { a: cos, b: sin, c: -sin, d: cos, e: 0, f: 0 };
}

export function scale(sx: number, sy = sx): Affine {
  return { a: sx, b: 0, c: 0, d: sy, e: 0, f: 0 };
}

/** Rotation by `radians` about the point (x, y). */
export function rotateAbout(radians: number, x: number, y: number): Affine {
  return compose(translate(x, y), compose(rotate(radians), translate(-x, -y)));
}

export function applyAffine(m: Affine, poly: Polygon): Polygon {
  return poly.map(([x, y]) => [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f] as const);
}

export function ellipse(cx: number, cy: number, rx: number, ry: number, segments = 48): Polygon {
  const out: Point[] = [];
  for (let i = 0; i < segments; i++) {
    const t = (2 * Math.PI * i) / segments;
    out.push([cx + rx * Math.cos(t), cy + ry * Math.sin(t)]);
  }
  return out;
}

/** A limb: the segment from (0,0) to (0,length) thickened to half-width `halfWidth`, with round ends. */
export function capsule(length: number, halfWidth: number, segments = 12): Polygon {
  const out: Point[] = [];
  for (let i = 0; i <= segments; i++) {
    const t = (Math.PI * i) / segments; // bottom cap, from +x to −x through +y
    out.push([halfWidth * Math.cos(t), length + halfWidth * Math.sin(t)]);
  }
  for (let i = 0; i <= segments; i++) {
    const t = Math.PI + (Math.PI * i) / segments; // top cap, from −x to +x through −y
    out.push([halfWidth * Math.cos(t), halfWidth * Math.sin(t)]);
  }
  return out;
}

/** A quadrilateral whose corners are rounded with radius r (a torso, a skirt). */
export function roundedQuad(corners: readonly Point[], r: number, segmentsPerCorner = 6): Polygon {
  const n = corners.length;
  const out: Point[] = [];
  for (let i = 0; i < n; i++) {
    const prev = corners[(i + n - 1) % n];
    const cur = corners[i];
    const next = corners[(i + 1) % n];
    const d1 = norm([prev[0] - cur[0], prev[1] - cur[1]]);
    const d2 = norm([next[0] - cur[0], next[1] - cur[1]]);
    const rr = Math.min(r, d1.len / 2, d2.len / 2);
    const p1: Point = [cur[0] + d1.x * rr, cur[1] + d1.y * rr];
    const p2: Point = [cur[0] + d2.x * rr, cur[1] + d2.y * rr];
    // Quadratic Bézier with the corner as control point: a cheap, convincing round corner.
    for (let s = 0; s <= segmentsPerCorner; s++) {
      const t = s / segmentsPerCorner;
      const u = 1 - t;
      out.push([u * u * p1[0] + 2 * u * t * cur[0] + t * t * p2[0], u * u * p1[1] + 2 * u * t * cur[1] + t * t * p2[1]]);
    }
  }
  return out;
}

function norm(v: Point): { x: number; y: number; len: number } {
  const len = Math.hypot(v[0], v[1]) || 1;
  return { x: v[0] / len, y: v[1] / len, len };
}

/**
 * Writes `label` into every pixel whose centre lies inside `poly` (even-odd rule), scanline by scanline.
 * Later calls paint over earlier ones, so callers draw back to front.
 */
export function fillPolygon(labels: Uint16Array, width: number, height: number, poly: Polygon, label: number): void {
  const n = poly.length;
  if (n < 3) return;
  let minY = Infinity;
  let maxY = -Infinity;
  for (const [, y] of poly) {
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  const y0 = Math.max(0, Math.ceil(minY - 0.5));
  const y1 = Math.min(height - 1, Math.floor(maxY - 0.5));
  const xs: number[] = [];
  for (let y = y0; y <= y1; y++) {
    const yc = y + 0.5;
    xs.length = 0;
    for (let i = 0; i < n; i++) {
      const [ax, ay] = poly[i];
      const [bx, by] = poly[(i + 1) % n];
      // Half-open rule so a vertex on the scanline is counted once.
      if ((ay <= yc && by > yc) || (by <= yc && ay > yc)) xs.push(ax + ((yc - ay) / (by - ay)) * (bx - ax));
    }
    xs.sort((p, q) => p - q);
    const row = y * width;
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const xa = Math.max(0, Math.ceil(xs[k] - 0.5));
      const xb = Math.min(width, Math.ceil(xs[k + 1] - 0.5));
      for (let x = xa; x < xb; x++) labels[row + x] = label;
    }
  }
}
