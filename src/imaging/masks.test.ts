import { describe, it, expect } from 'vitest';
import { createImage } from './image.ts';
import { createMask, featherMask, growMask, growMaskForInpaint, maskFromAlpha, maskFromImage, maskToImage, thresholdMask, type Mask } from './masks.ts';

function dot(w: number, h: number, x: number, y: number): Mask {
  const m = createMask(w, h);
  m.data[y * w + x] = 1;
  return m;
}

function setPixels(m: Mask): [number, number][] {
  const out: [number, number][] = [];
  for (let y = 0; y < m.height; y++) for (let x = 0; x < m.width; x++) if (m.data[y * m.width + x] > 0) out.push([x, y]);
  return out;
}

/** One 3×3 square grey-dilation step, written the obvious way. */
function squareStep(m: Mask, isMax: boolean): Mask {
  const out = createMask(m.width, m.height);
  for (let y = 0; y < m.height; y++) {
    for (let x = 0; x < m.width; x++) {
      let v = isMax ? -Infinity : Infinity;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
        const xx = x + dx, yy = y + dy;
        if (xx < 0 || yy < 0 || xx >= m.width || yy >= m.height) continue;
        const u = m.data[yy * m.width + xx];
        v = isMax ? Math.max(v, u) : Math.min(v, u);
      }
      out.data[y * m.width + x] = v;
    }
  }
  return out;
}

describe('growMask', () => {
  it('grows a single pixel by exactly N in every direction (square), or a diamond with tapered corners', () => {
    for (const n of [1, 3, 7]) {
      const g = growMask(dot(31, 31, 15, 15), n);
      const px = setPixels(g);
      expect(px.length).toBe((2 * n + 1) ** 2);
      expect(px.every(([x, y]) => Math.abs(x - 15) <= n && Math.abs(y - 15) <= n)).toBe(true);
      const t = setPixels(growMask(dot(31, 31, 15, 15), n, { taperedCorners: true }));
      expect(t.length).toBe(2 * n * n + 2 * n + 1);
      expect(t.every(([x, y]) => Math.abs(x - 15) + Math.abs(y - 15) <= n)).toBe(true);
    }
  });

  it('equals N repeated 3×3 dilations / erosions on a random grey mask, borders included', () => {
    const m = createMask(17, 11);
    let s = 7;
    for (let i = 0; i < m.data.length; i++) m.data[i] = ((s = (s * 48271) % 2147483647) % 1000) / 1000;
    for (const n of [1, 2, 4, -1, -3]) {
      let ref = m;
      for (let i = 0; i < Math.abs(n); i++) ref = squareStep(ref, n > 0);
      expect(Array.from(growMask(m, n).data), `n ${n}`).toEqual(Array.from(ref.data));
    }
  });

  it('a shrink undoes a grow on a large square', () => {
    const m = createMask(40, 40);
    for (let y = 10; y < 30; y++) for (let x = 10; x < 30; x++) m.data[y * 40 + x] = 1;
    expect(Array.from(growMask(growMask(m, 4), -4).data)).toEqual(Array.from(m.data));
  });

  it('rejects fractional px and broken masks', () => {
    expect(() => growMask(createMask(4, 4), 1.5)).toThrow(/integer/);
    expect(() => growMask({ width: 4, height: 4, data: new Float32Array(3) }, 1)).toThrow(/Float32Array of 4×4/);
    expect(() => createMask(0, 4)).toThrow(/invalid mask size/);
  });
});

describe('growMaskForInpaint (VAEEncodeForInpaint grow_mask_by)', () => {
  it('odd g grows symmetrically by (g−1)/2; even g = 6 grows 2 up/left and 3 down/right', () => {
    const odd = setPixels(growMaskForInpaint(dot(20, 20, 10, 10), 5));
    expect(odd.length).toBe(25);
    expect(Math.min(...odd.map(([x]) => x))).toBe(8);
    expect(Math.max(...odd.map(([x]) => x))).toBe(12);
    const even = setPixels(growMaskForInpaint(dot(20, 20, 10, 10), 6));
    expect(even.length).toBe(36);
    expect(Math.min(...even.map(([x]) => x))).toBe(8);
    expect(Math.max(...even.map(([x]) => x))).toBe(13);
    expect(Math.min(...even.map(([, y]) => y))).toBe(8);
    expect(Math.max(...even.map(([, y]) => y))).toBe(13);
  });

  it('rounds the input first (0.5 → 0, 0.51 → 1) and returns a binary mask', () => {
    const m = createMask(9, 9);
    m.data[0] = 0.5;
    m.data[80] = 0.51;
    const g = growMaskForInpaint(m, 3);
    expect(g.data[0]).toBe(0);
    expect(g.data[80]).toBe(1);
    expect(g.data[70]).toBe(1);
    expect(setPixels(g).length).toBe(4);
    expect(() => growMaskForInpaint(m, -1)).toThrow(/grow_mask_by/);
  });
});

describe('featherMask', () => {
  const edge = () => {
    const m = createMask(40, 5);
    for (let y = 0; y < 5; y++) for (let x = 20; x < 40; x++) m.data[y * 40 + x] = 1;
    return m;
  };

  it('linear: a hard edge becomes a linear ramp 2r+1 wide', () => {
    const f = featherMask(edge(), 3, 'linear');
    const row = Array.from(f.data.slice(80, 120));
    for (let x = 17; x <= 23; x++) expect(row[x]).toBeCloseTo((x - 16) / 7, 6);
    expect(row[15]).toBe(0);
    expect(row[24]).toBeCloseTo(1, 6);
  });

  it('gaussian: symmetric around the edge, monotone, 0 and 1 far away', () => {
    const f = featherMask(edge(), 4, 'gaussian');
    const row = Array.from(f.data.slice(80, 120));
    for (let d = 0; d < 8; d++) expect(row[19 - d] + row[20 + d]).toBeCloseTo(1, 6);
    for (let x = 1; x < 40; x++) expect(row[x]).toBeGreaterThanOrEqual(row[x - 1]);
    expect(row[0]).toBeCloseTo(0, 6);
    expect(row[39]).toBeCloseTo(1, 6);
    expect(() => featherMask(edge(), -1)).toThrow(/radius/);
  });
});

describe('mask conversions', () => {
  it('threshold is strict (> value), alpha mask is 1 − alpha, round trip through an image', () => {
    const m = createMask(3, 1);
    m.data.set([0.2, 0.5, 0.8]);
    expect(Array.from(thresholdMask(m, 0.5).data)).toEqual([0, 0, 1]);
    const img = createImage(2, 1, 4);
    img.data.set([0, 0, 0, 255, 9, 9, 9, 0]);
    expect(Array.from(maskFromAlpha(img).data)).toEqual([0, 1]);
    expect(Array.from(maskFromImage(img, 'red').data)).toEqual([0, 9 / 255].map(Math.fround));
    expect(Array.from(maskToImage(m).data)).toEqual([51, 128, 204]);
  });
});
