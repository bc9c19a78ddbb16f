import { describe, expect, it } from 'vitest';
import { bubbleShapes, textBox } from './bubbleGeometry.ts';
import { bubbleKinds } from '../project/schema.ts';

const bounds = (polys: { x: number; y: number }[][]) => {
  const pts = polys.flat();
  return { minX: Math.min(...pts.map((p) => p.x)), maxX: Math.max(...pts.map((p) => p.x)), minY: Math.min(...pts.map((p) => p.y)), maxY: Math.max(...pts.map((p) => p.y)) };
};

describe('bubbleShapes', () => {
  for (const kind of bubbleKinds) {
    it(`${kind}: the body fills its box; a tail reaches the tip only when the tip is outside`, () => {
      const body = bubbleShapes(kind, 40, 20, null);
      const b = bounds(body);
      expect(b.minX).toBeGreaterThan(-0.01);
      expect(b.maxX).toBeLessThan(40.01);
      expect(b.maxX - b.minX).toBeGreaterThan(40 * 0.9);
      expect(b.maxY - b.minY).toBeGreaterThan(20 * 0.9);

      const withTail = bounds(bubbleShapes(kind, 40, 20, { x: 5, y: 45 }));
      expect(withTail.maxY).toBeGreaterThan(kind === 'cloud' ? 35 : 44.9); // thought circles stop short of the tip
      expect(bubbleShapes(kind, 40, 20, { x: 20, y: 10 })).toHaveLength(body.length); // tip inside: no tail

      const t = textBox(kind, 40, 20);
      expect(t.x).toBeGreaterThan(0);
      expect(t.x + t.w).toBeLessThan(40);
      expect(t.w).toBeGreaterThan(20);
    });
  }
});
