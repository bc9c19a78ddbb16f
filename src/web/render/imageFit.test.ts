import { describe, expect, it } from 'vitest';
import { frameToImage, placeImage, zoomFramingAt } from './imageFit.ts';

describe('placeImage', () => {
  it('cover fills the frame and crops; contain shows all of it, centred', () => {
    expect(placeImage('cover', 100, 100, 200, 100)).toEqual({ x: 0, y: -50, width: 200, height: 200 });
    expect(placeImage('contain', 100, 100, 200, 100)).toEqual({ x: 50, y: 0, width: 100, height: 100 });
  });

  it('maps frame points back to picture pixels', () => {
    expect(frameToImage('cover', 100, 100, 200, 100)(100, 50)).toEqual([50, 50]);
    expect(frameToImage('contain', 100, 100, 200, 100)(50, 0)).toEqual([0, 0]);
    expect(frameToImage('cover', 512, 256, 190, 95)(190, 95)).toEqual([512, 256]);
  });
});

describe('framing (pan and zoom inside the panel)', () => {
  it('zoom 2 about the centre doubles the picture around the frame centre; a shift moves it', () => {
    expect(placeImage('cover', 100, 100, 200, 100, { zoom: 2, x: 0, y: 0 })).toEqual({ x: -100, y: -150, width: 400, height: 400 });
    expect(placeImage('cover', 100, 100, 200, 100, { zoom: 1, x: 10, y: -5 })).toEqual({ x: 10, y: -55, width: 200, height: 200 });
    // Picture pixels under a frame point follow the framing.
    expect(frameToImage('cover', 100, 100, 200, 100, { zoom: 2, x: 0, y: 0 })(100, 50)).toEqual([50, 50]);
    expect(frameToImage('cover', 100, 100, 200, 100, { zoom: 2, x: 0, y: 0 })(0, 0)).toEqual([25, 37.5]);
  });

  it('zooming at a point keeps the picture pixel under that point', () => {
    const before = { zoom: 1.5, x: 12, y: -7 };
    const after = zoomFramingAt(before, 200, 100, 40, 70, 1.6);
    expect(after.zoom).toBeCloseTo(2.4, 6);
    const a = frameToImage('cover', 300, 200, 200, 100, before)(40, 70);
    const b = frameToImage('cover', 300, 200, 200, 100, after)(40, 70);
    expect(b[0]).toBeCloseTo(a[0], 1);
    expect(b[1]).toBeCloseTo(a[1], 1);
    expect(zoomFramingAt(before, 200, 100, 0, 0, 100).zoom).toBe(8);
  });
});
