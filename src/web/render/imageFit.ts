// How a picture sits in its panel: `cover` fills the frame and crops the overflow (generated pictures,
// made at the panel's shape, fit exactly); `contain` shows the whole picture, with paper around it. The
// panel's framing then zooms it about the frame's centre and shifts it (the painter's pan and zoom).

export type ImageFit = 'cover' | 'contain';

export interface Placement {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Zoom about the frame's centre, then a shift (frame units). */
export interface FramingLike {
  zoom: number;
  x: number;
  y: number;
}

export const NO_FRAMING: FramingLike = { zoom: 1, x: 0, y: 0 };
export const MIN_ZOOM = 0.2;
export const MAX_ZOOM = 8;

/** Where a picture of `iw × ih` pixels is drawn in a frame of `w × h` (frame units), centred, then framed. */
export function placeImage(fit: ImageFit, iw: number, ih: number, w: number, h: number, framing: FramingLike = NO_FRAMING): Placement {
  const s = fit === 'cover' ? Math.max(w / iw, h / ih) : Math.min(w / iw, h / ih);
  const z = framing.zoom;
  return { x: w / 2 + ((w - iw * s) / 2 - w / 2) * z + framing.x, y: h / 2 + ((h - ih * s) / 2 - h / 2) * z + framing.y, width: iw * s * z, height: ih * s * z };
}

/** Frame coordinates → picture pixels, for masks and boxes drawn on the panel. */
export function frameToImage(fit: ImageFit, iw: number, ih: number, w: number, h: number, framing: FramingLike = NO_FRAMING): (x: number, y: number) => [number, number] {
  const p = placeImage(fit, iw, ih, w, h, framing);
  const s = p.width / iw;
  return (x, y) => [(x - p.x) / s, (y - p.y) / s];
}

/** The framing after zooming by `factor` with the frame point (px, py) kept under the pointer. */
export function zoomFramingAt(f: FramingLike, w: number, h: number, px: number, py: number, factor: number): FramingLike {
  const zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, f.zoom * factor));
  // A frame point X shows the unzoomed point u = c + (X − c − shift) / zoom; keep X on u at the new zoom.
  const keep = (p: number, c: number, shift: number) => p - c - ((p - c - shift) / f.zoom) * zoom;
  return { zoom: round3(zoom), x: round3(keep(px, w / 2, f.x)), y: round3(keep(py, h / 2, f.y)) };
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
