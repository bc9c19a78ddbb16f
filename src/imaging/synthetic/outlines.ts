// Black outlines of constant weight along every boundary between parts of a label map. The stroke is
// centred on the boundary and anti-aliased by distance (coverage = clamp(w/2 − d, 0, 1)), so references
// contain the blended edge pixels a real scan or export would.

/** Line coverage per pixel, 0..255 (255 = fully line). */
export function outlineCoverage(labels: Uint16Array, width: number, height: number, lineWidth: number): Uint8Array {
  const n = width * height;
  const band = new Uint8Array(n);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const l = labels[i];
      if (x + 1 < width && labels[i + 1] !== l) band[i] = band[i + 1] = 1;
      if (y + 1 < height && labels[i + width] !== l) band[i] = band[i + width] = 1;
    }
  }
  // The band is two pixels wide, straddling the true boundary, whose distance from a pixel is about the
  // distance to the nearest band pixel centre + 0.5: coverage = clamp(w/2 + 0.5 − (d + 0.5), 0, 1).
  const half = lineWidth / 2;
  const r = Math.ceil(half);
  const stamp: { dx: number; dy: number; v: number }[] = [];
  for (let dy = -r; dy <= r; dy++) {
    for (let dx = -r; dx <= r; dx++) {
      const v = Math.round(255 * Math.max(0, Math.min(1, half - Math.hypot(dx, dy))));
      if (v > 0) stamp.push({ dx, dy, v });
    }
  }
  const cov = new Uint8Array(n);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!band[y * width + x]) continue;
      for (const s of stamp) {
        const xx = x + s.dx;
        const yy = y + s.dy;
        if (xx < 0 || yy < 0 || xx >= width || yy >= height) continue;
        const j = yy * width + xx;
        if (cov[j] < s.v) cov[j] = s.v;
      }
    }
  }
  return cov;
}
