// Speech-bubble outlines as polygons in the bubble's own millimetres (origin at its box's top left).
// A bubble is the union of its shapes: the body and the tail (or, for a thought cloud, the body's bumps
// and the little circles leading to the speaker). Drawing strokes all shapes at twice the line width and
// then fills them all, so only the union's outer edge keeps a line — the joint between body and tail
// disappears without computing a polygon union.
import type { BubbleKind } from '../project/schema.ts';

export interface Point {
  x: number;
  y: number;
}
export type Polygon = Point[];

const TAU = Math.PI * 2;

function ellipse(cx: number, cy: number, rx: number, ry: number, n = 96): Polygon {
  return Array.from({ length: n }, (_, i) => ({ x: cx + rx * Math.cos((TAU * i) / n), y: cy + ry * Math.sin((TAU * i) / n) }));
}

function roundedRect(w: number, h: number, r: number): Polygon {
  if (r <= 0) return [{ x: 0, y: 0 }, { x: w, y: 0 }, { x: w, y: h }, { x: 0, y: h }];
  const pts: Polygon = [];
  const corners = [
    { cx: w - r, cy: r, a0: -Math.PI / 2 },
    { cx: w - r, cy: h - r, a0: 0 },
    { cx: r, cy: h - r, a0: Math.PI / 2 },
    { cx: r, cy: r, a0: Math.PI },
  ];
  for (const c of corners) for (let i = 0; i <= 8; i++) {
    const a = c.a0 + (Math.PI / 2) * (i / 8);
    pts.push({ x: c.cx + r * Math.cos(a), y: c.cy + r * Math.sin(a) });
  }
  return pts;
}

/** Ramanujan's approximation of an ellipse's perimeter: enough to space bumps and spikes evenly. */
function perimeter(rx: number, ry: number): number {
  return Math.PI * (3 * (rx + ry) - Math.sqrt((3 * rx + ry) * (rx + 3 * ry)));
}

function shoutBody(w: number, h: number): Polygon {
  const rx = w / 2;
  const ry = h / 2;
  const spikes = Math.max(10, Math.round(perimeter(rx, ry) / 7));
  const pts: Polygon = [];
  for (let i = 0; i < spikes * 2; i++) {
    const a = (Math.PI * i) / spikes;
    // Spikes of slightly different lengths (a fixed pattern, so the shape never jumps while editing).
    const k = i % 2 === 0 ? 1 - 0.06 * ((i * 7) % 3) : 0.74;
    pts.push({ x: rx + rx * k * Math.cos(a), y: ry + ry * k * Math.sin(a) });
  }
  return pts;
}

function cloudBody(w: number, h: number): Polygon[] {
  const rx = w / 2;
  const ry = h / 2;
  const bumps = Math.max(8, Math.round(perimeter(rx, ry) / 10));
  const bumpR = (perimeter(rx * 0.84, ry * 0.84) / bumps) * 0.62;
  const shapes: Polygon[] = [ellipse(rx, ry, rx * 0.84, ry * 0.84)];
  for (let i = 0; i < bumps; i++) {
    const a = (TAU * i) / bumps;
    shapes.push(ellipse(rx + (rx - bumpR) * Math.cos(a), ry + (ry - bumpR) * Math.sin(a), bumpR, bumpR, 32));
  }
  return shapes;
}

/** Where the line from the centre towards `tip` leaves the body (treated as an ellipse), and the tip's distance past it. */
function exitPoint(w: number, h: number, tip: Point): { angle: number; outside: boolean } {
  const dx = (tip.x - w / 2) / (w / 2);
  const dy = (tip.y - h / 2) / (h / 2);
  return { angle: Math.atan2(dy, dx), outside: dx * dx + dy * dy > 1.05 };
}

function pointedTail(w: number, h: number, tip: Point): Polygon | null {
  const { angle, outside } = exitPoint(w, h, tip);
  if (!outside) return null;
  const spread = 0.26;
  // The base sits inside the body so the union hides where they meet.
  const base = (a: number): Point => ({ x: w / 2 + (w / 2) * 0.8 * Math.cos(a), y: h / 2 + (h / 2) * 0.8 * Math.sin(a) });
  return [base(angle - spread), tip, base(angle + spread)];
}

function thoughtTail(w: number, h: number, tip: Point): Polygon[] {
  const { angle, outside } = exitPoint(w, h, tip);
  if (!outside) return [];
  const edge = { x: w / 2 + (w / 2) * Math.cos(angle), y: h / 2 + (h / 2) * Math.sin(angle) };
  const r0 = Math.min(w, h) * 0.09;
  return [0.3, 0.62, 0.92].map((t, i) => ellipse(edge.x + (tip.x - edge.x) * t, edge.y + (tip.y - edge.y) * t, r0 * (1 - i * 0.3), r0 * (1 - i * 0.3), 24));
}

/** Every polygon of a bubble (union = the bubble), in bubble-local millimetres. */
export function bubbleShapes(kind: BubbleKind, w: number, h: number, tipLocal: Point | null): Polygon[] {
  w = Math.max(w, 1);
  h = Math.max(h, 1);
  let body: Polygon[];
  if (kind === 'oval') body = [ellipse(w / 2, h / 2, w / 2, h / 2)];
  else if (kind === 'rectangle') body = [roundedRect(w, h, Math.min(3, w / 4, h / 4))];
  else if (kind === 'caption') body = [roundedRect(w, h, 0)];
  else if (kind === 'shout') body = [shoutBody(w, h)];
  else body = cloudBody(w, h);
  if (!tipLocal) return body;
  if (kind === 'cloud') return [...body, ...thoughtTail(w, h, tipLocal)];
  const tail = pointedTail(w, h, tipLocal);
  return tail ? [...body, tail] : body;
}

/** The box inside a bubble that its text is wrapped into (bubble-local millimetres). */
export function textBox(kind: BubbleKind, w: number, h: number): { x: number; y: number; w: number; h: number } {
  const f = kind === 'oval' ? [0.74, 0.7] : kind === 'cloud' ? [0.68, 0.64] : kind === 'shout' ? [0.6, 0.56] : null;
  if (f) return { x: (w * (1 - f[0])) / 2, y: (h * (1 - f[1])) / 2, w: w * f[0], h: h * f[1] };
  const pad = Math.min(2, w / 6, h / 6);
  return { x: pad, y: pad, w: w - 2 * pad, h: h - 2 * pad };
}

/** Bubble outline width in millimetres (about a 0.5 mm pen). */
export const BUBBLE_LINE_MM = 0.5;
