// How a picture sits in its panel: `cover` fills the frame and crops the overflow (generated pictures,
// made at the panel's shape, fit exactly); `contain` shows the whole picture, with paper around it.

export type ImageFit = 'cover' | 'contain';

export interface Placement {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Where a picture of `iw × ih` pixels is drawn in a frame of `w × h` (frame units), centred. */
export function placeImage(fit: ImageFit, iw: number, ih: number, w: number, h: number): Placement {
  const s = fit === 'cover' ? Math.max(w / iw, h / ih) : Math.min(w / iw, h / ih);
  return { x: (w - iw * s) / 2, y: (h - ih * s) / 2, width: iw * s, height: ih * s };
}

/** Frame coordinates → picture pixels, for masks and boxes drawn on the panel. */
export function frameToImage(fit: ImageFit, iw: number, ih: number, w: number, h: number): (x: number, y: number) => [number, number] {
  const p = placeImage(fit, iw, ih, w, h);
  const s = p.width / iw;
  return (x, y) => [(x - p.x) / s, (y - p.y) / s];
}
