import { describe, expect, it } from 'vitest';
import { NonFiniteError } from '../../sampling/finiteCheck.ts';
import { decodedToImage } from './decodedImage.ts';

describe('decodedToImage', () => {
  it('maps [−1, 1] to 8 bits and refuses NaN instead of writing black pixels', () => {
    const ok = decodedToImage(Float32Array.from([-1, 0, 1, 0.5, -1, 0, 1, 0.5, -1, 0, 1, 0.5]), [1, 3, 2, 2]);
    expect([...ok.data.subarray(0, 6)]).toEqual([0, 0, 0, 128, 128, 128]);
    const bad = Float32Array.from({ length: 12 }, (_, i) => (i === 7 ? NaN : 0));
    expect(() => decodedToImage(bad, [1, 3, 2, 2])).toThrow(NonFiniteError);
    expect(() => decodedToImage(bad, [1, 3, 2, 2])).toThrow('VAE decode: decoded image has 1 non-finite value of 12 (first NaN at index 7)');
  });
});
