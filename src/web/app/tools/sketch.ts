// Sketching on a panel: strokes in panel-local millimetres, and their rasterisation (dark lines on white)
// at the generation size.
export interface Stroke {
  points: number[];
  eraser: boolean;
  /** Pen width in millimetres. */
  size: number;
}

export interface SketchState {
  panelId: string;
  strokes: Stroke[];
  tool: 'brush' | 'eraser';
  size: number;
}

export async function sketchPng(strokes: readonly Stroke[], panel: { w: number; h: number }, width: number, height: number): Promise<Blob> {
  const c = document.createElement('canvas');
  c.width = width;
  c.height = height;
  const ctx = c.getContext('2d')!;
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  const sx = width / panel.w;
  const sy = height / panel.h;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  for (const s of strokes) {
    ctx.strokeStyle = s.eraser ? '#ffffff' : '#000000';
    ctx.lineWidth = s.size * (sx + sy) / 2;
    ctx.beginPath();
    ctx.moveTo(s.points[0] * sx, s.points[1] * sy);
    for (let i = 2; i < s.points.length; i += 2) ctx.lineTo(s.points[i] * sx, s.points[i + 1] * sy);
    if (s.points.length === 2) ctx.lineTo(s.points[0] * sx + 0.01, s.points[1] * sy);
    ctx.stroke();
  }
  return new Promise((resolve, reject) => c.toBlob((b) => (b ? resolve(b) : reject(new Error('the sketch could not be encoded'))), 'image/png'));
}
