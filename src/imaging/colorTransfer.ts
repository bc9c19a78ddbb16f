// Global colour transfer (Reinhard et al. 2001, "Color Transfer between Images", here in CIELAB):
// every pixel's L, a, b is shifted and scaled so the image's per-channel mean and standard deviation
// match the source's: out = (x − μ_img)·σ_src/σ_img + μ_src (a channel with σ_img = 0, e.g. the chroma of
// grey line art, takes the source's mean). The evaluation baseline for reference-guided colouring.
import { assertImage, createImage, type Image } from './image.ts';
import { rgbToLab, type Lab } from './palette.ts';

function labToRgb([l, a, b]: Lab): [number, number, number] {
  const fy = (l + 16) / 116;
  const fx = fy + a / 500;
  const fz = fy - b / 200;
  const inv = (t: number): number => (t ** 3 > 216 / 24389 ? t ** 3 : (116 * t - 16) / (24389 / 27));
  const x = inv(fx) * 0.95047;
  const y = inv(fy);
  const z = inv(fz) * 1.08883;
  const lin = [
    3.2404542 * x - 1.5371385 * y - 0.4985314 * z,
    -0.969266 * x + 1.8760108 * y + 0.041556 * z,
    0.0556434 * x - 0.2040259 * y + 1.0572252 * z,
  ];
  return lin.map((v) => {
    const c = v <= 0.0031308 ? v * 12.92 : 1.055 * Math.pow(v, 1 / 2.4) - 0.055;
    return Math.max(0, Math.min(255, Math.round(c * 255)));
  }) as [number, number, number];
}

function labStats(img: Image): { labs: Lab[]; mean: number[]; std: number[] } {
  const c = img.channels;
  const labs: Lab[] = [];
  for (let i = 0; i < img.data.length; i += c) {
    const g = img.data[i];
    labs.push(c >= 3 ? rgbToLab(img.data[i], img.data[i + 1], img.data[i + 2]) : rgbToLab(g, g, g));
  }
  const mean = [0, 0, 0];
  for (const p of labs) for (let k = 0; k < 3; k++) mean[k] += p[k] / labs.length;
  const std = [0, 0, 0];
  for (const p of labs) for (let k = 0; k < 3; k++) std[k] += (p[k] - mean[k]) ** 2 / labs.length;
  return { labs, mean, std: std.map(Math.sqrt) };
}

/** `target` recoloured so its CIELAB mean and spread per channel match `source`'s (RGB out). */
export function labMeanStdTransfer(target: Image, source: Image): Image {
  assertImage(target, 'colour transfer target');
  assertImage(source, 'colour transfer source');
  const t = labStats(target);
  const s = labStats(source);
  const out = createImage(target.width, target.height, 3);
  t.labs.forEach((p, i) => {
    const at = (k: number) => (t.std[k] > 1e-6 ? (p[k] - t.mean[k]) * (s.std[k] / t.std[k]) + s.mean[k] : s.mean[k]);
    const q: Lab = [at(0), at(1), at(2)];
    out.data.set(labToRgb(q), i * 3);
  });
  return out;
}
