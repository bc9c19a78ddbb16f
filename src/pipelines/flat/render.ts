// Paints a segmented line art: the flat layer (each region one colour), the finished drawing (flat × black
// lines, colour-trace lines painted over with their region's colour, as studios finish them) and a mask of
// the regions whose colour is uncertain.
import { createImage, type Image } from '../../imaging/image.ts';
import type { Rgb } from '../../imaging/palette.ts';
import type { LineArtRegions } from './regions.ts';

export interface RenderedFlat {
  flat: Image;
  composite: Image;
  /** Grey: 255 on pixels of regions with confidence below the threshold, 0 elsewhere. */
  uncertain: Image;
  /** Number of regions below the confidence threshold. */
  uncertainCount: number;
}

/** (k << 8 | c) → round(c · k / 255): the multiply blend as a table (a 2048² frame does it 12 million times). */
const MULTIPLY = new Uint8Array(65536);
for (let k = 0; k < 256; k++) for (let c = 0; c < 256; c++) MULTIPLY[(k << 8) | c] = Math.floor((c * k + 127) / 255);

/** `colors[r]` is region r's RGB; `confidence[r]` in 0..1; regions below `threshold` are marked uncertain. */
export function renderRegions(regions: LineArtRegions, colors: Rgb[], confidence: Float32Array, threshold: number): RenderedFlat {
  const { width: w, height: h, labels, grey, trace, inverted } = regions;
  const lut = new Uint8Array(regions.count * 3);
  const unsure = new Uint8Array(regions.count);
  let uncertainCount = 0;
  for (let r = 0; r < regions.count; r++) {
    lut.set(colors[r], r * 3);
    if (confidence[r] < threshold) {
      unsure[r] = 1;
      uncertainCount++;
    }
  }
  const flat = createImage(w, h, 3);
  const composite = createImage(w, h, 3);
  const uncertain = createImage(w, h, 1);
  const fd = flat.data;
  const cd = composite.data;
  for (let i = 0, o = 0; i < w * h; i++, o += 3) {
    const l = labels[i];
    const r = lut[l * 3];
    const g = lut[l * 3 + 1];
    const b = lut[l * 3 + 2];
    fd[o] = r;
    fd[o + 1] = g;
    fd[o + 2] = b;
    if (unsure[l]) uncertain.data[i] = 255;
    // Inverted (white-on-black) input: the line darkness is 255 − grey. Trace lines vanish under the paint.
    const k = (trace[i] ? 255 : inverted ? 255 - grey[i] : grey[i]) << 8;
    cd[o] = MULTIPLY[k | r];
    cd[o + 1] = MULTIPLY[k | g];
    cd[o + 2] = MULTIPLY[k | b];
  }
  return { flat, composite, uncertain, uncertainCount };
}
