// A panel's outline in panel-local millimetres (corners TL, TR, BR, BL): its slanted outline, or its box.
import type { Panel } from '../project/schema.ts';

export function outlineOf(panel: Pick<Panel, 'w' | 'h' | 'outline'>): number[] {
  return panel.outline ?? [0, 0, panel.w, 0, panel.w, panel.h, 0, panel.h];
}

/** Traces the outline as a closed path (for clipping with a 2D context, Konva's or the browser's). */
export function traceOutline(ctx: { beginPath(): void; moveTo(x: number, y: number): void; lineTo(x: number, y: number): void; closePath(): void }, outline: readonly number[]): void {
  ctx.beginPath();
  ctx.moveTo(outline[0], outline[1]);
  for (let i = 2; i < outline.length; i += 2) ctx.lineTo(outline[i], outline[i + 1]);
  ctx.closePath();
}

/** Is the panel-local point inside the (convex) outline? */
export function insideOutline(outline: readonly number[], x: number, y: number): boolean {
  let sign = 0;
  const n = outline.length / 2;
  for (let i = 0; i < n; i++) {
    const [ax, ay, bx, by] = [outline[2 * i], outline[2 * i + 1], outline[(2 * i + 2) % outline.length], outline[(2 * i + 3) % outline.length]];
    const cross = (bx - ax) * (y - ay) - (by - ay) * (x - ax);
    if (cross === 0) continue;
    if (sign === 0) sign = Math.sign(cross);
    else if (Math.sign(cross) !== sign) return false;
  }
  return true;
}
