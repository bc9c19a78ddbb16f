// Painting on a panel: sketch strokes (dark on a white sheet), mask strokes (the area to repaint) or a
// box (for the detailer), all in panel-local millimetres; and their rasterisation at picture size.
import { frameToImage, placeImage } from '../../render/imageFit.ts';
import type { FramingLike, ImageFit } from '../../render/imageFit.ts';

export interface Stroke {
  points: number[];
  eraser: boolean;
  /** Pen width in millimetres. */
  size: number;
}

export type PaintMode = 'sketch' | 'mask' | 'box';

export interface SketchState {
  panelId: string;
  mode: PaintMode;
  strokes: Stroke[];
  tool: 'brush' | 'eraser';
  size: number;
  box: { x: number; y: number; w: number; h: number } | null;
}

export function startPainting(panelId: string, mode: PaintMode): SketchState {
  return { panelId, mode, strokes: [], tool: 'brush', size: mode === 'mask' ? 6 : 1.2, box: null };
}

function encode(c: HTMLCanvasElement): Promise<Blob> {
  return new Promise((resolve, reject) => c.toBlob((b) => (b ? resolve(b) : reject(new Error('the drawing could not be encoded'))), 'image/png'));
}

function trace(ctx: CanvasRenderingContext2D, s: Stroke, map: (x: number, y: number) => [number, number]) {
  ctx.beginPath();
  const [x0, y0] = map(s.points[0], s.points[1]);
  ctx.moveTo(x0, y0);
  for (let i = 2; i < s.points.length; i += 2) ctx.lineTo(...map(s.points[i], s.points[i + 1]));
  if (s.points.length === 2) ctx.lineTo(x0 + 0.01, y0);
  ctx.stroke();
}

/**
 * The sketch at the generation size. The picture it guides will be shown in the panel with `cover` and the
 * panel's framing, so the strokes are mapped through that same placement: what was drawn over a spot of
 * the panel guides the part of the picture that will be shown there.
 */
export async function sketchPng(strokes: readonly Stroke[], panel: { w: number; h: number; framing?: FramingLike }, width: number, height: number): Promise<Blob> {
  const c = document.createElement('canvas');
  c.width = width;
  c.height = height;
  const ctx = c.getContext('2d')!;
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  const map = frameToImage('cover', width, height, panel.w, panel.h, panel.framing);
  const pxPerMm = width / placeImage('cover', width, height, panel.w, panel.h, panel.framing).width;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  for (const s of strokes) {
    ctx.strokeStyle = s.eraser ? '#ffffff' : '#000000';
    // At small generation sizes a pen stroke would fall below a pixel and fade into grey: keep 1.5 px.
    ctx.lineWidth = Math.max(1.5, s.size * pxPerMm);
    trace(ctx, s, map);
  }
  return encode(c);
}


/** The inpainting mask at the picture's size: opaque everywhere, transparent where painted (repaint there). */
export async function maskPng(strokes: readonly Stroke[], panel: { w: number; h: number; framing?: FramingLike }, iw: number, ih: number, fit: ImageFit): Promise<Blob> {
  const c = document.createElement('canvas');
  c.width = iw;
  c.height = ih;
  const ctx = c.getContext('2d')!;
  ctx.fillStyle = '#000000';
  ctx.fillRect(0, 0, iw, ih);
  const map = frameToImage(fit, iw, ih, panel.w, panel.h, panel.framing);
  const pxPerMm = iw / placeImage(fit, iw, ih, panel.w, panel.h, panel.framing).width;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  ctx.globalCompositeOperation = 'destination-out';
  for (const s of strokes) {
    ctx.lineWidth = s.size * pxPerMm;
    trace(ctx, s, map);
  }
  return encode(c);
}
