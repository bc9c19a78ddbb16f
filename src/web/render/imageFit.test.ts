import { describe, expect, it } from 'vitest';
import { frameToImage, placeImage } from './imageFit.ts';

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
