// A character's palette from their reference sheet: the most common colours of the sheet, ignoring
// paper white and line black, with near-duplicates merged. Works on raw RGBA so the browser can feed it
// a downscaled canvas and tests a synthetic picture.

const hex = (r: number, g: number, b: number) => `#${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;

export function sheetPalette(rgba: Uint8Array | Uint8ClampedArray, max = 8): string[] {
  const bins = new Map<number, { n: number; r: number; g: number; b: number }>();
  for (let i = 0; i < rgba.length; i += 4) {
    const r = rgba[i];
    const g = rgba[i + 1];
    const b = rgba[i + 2];
    if (rgba[i + 3] < 128) continue;
    const lo = Math.min(r, g, b);
    const hi = Math.max(r, g, b);
    if (lo > 232 || hi < 40) continue; // paper and ink
    const key = ((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4);
    const bin = bins.get(key) ?? { n: 0, r: 0, g: 0, b: 0 };
    bin.n++;
    bin.r += r;
    bin.g += g;
    bin.b += b;
    bins.set(key, bin);
  }
  const total = [...bins.values()].reduce((s, b) => s + b.n, 0);
  const picked: { r: number; g: number; b: number }[] = [];
  for (const bin of [...bins.values()].sort((a, b) => b.n - a.n)) {
    if (bin.n < total * 0.004) break; // stray anti-aliasing pixels
    const c = { r: Math.round(bin.r / bin.n), g: Math.round(bin.g / bin.n), b: Math.round(bin.b / bin.n) };
    if (picked.some((p) => Math.abs(p.r - c.r) + Math.abs(p.g - c.g) + Math.abs(p.b - c.b) < 48)) continue;
    picked.push(c);
    if (picked.length === max) break;
  }
  return picked.map((c) => hex(c.r, c.g, c.b));
}
