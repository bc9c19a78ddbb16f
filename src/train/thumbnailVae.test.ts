import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadVae } from '../models/vae/loadVae.ts';
import { writeThumbnailVae } from './thumbnailVae.ts';

describe('thumbnail VAE (hand-set AutoencoderKL weights)', () => {
  it('encodes to 4×4 averages of R, G, B minus the shift and decodes them back (shift added) by nearest upsampling, through the normal VAE loader', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inkflow-thumb-vae-'));
    try {
      const shift = [0.2, -0.1, 0.3];
      await writeThumbnailVae(dir, [1, 1, 1], shift);
      const vae = await loadVae(dir, { cacheDir: false, threads: 1 });
      const s = 16;
      const image = new Float32Array(3 * s * s);
      for (let c = 0; c < 3; c++) for (let y = 0; y < s; y++) for (let x = 0; x < s; x++) image[(c * s + y) * s + x] = Math.sin(0.7 * x + 1.3 * y + 2 * c) * 0.8;
      const enc = await vae.encode({ shape: [1, 3, s, s], data: image });
      expect(enc.mean.shape).toEqual([1, 4, 4, 4]);
      let worst = 0;
      for (let c = 0; c < 3; c++) for (let by = 0; by < 4; by++) for (let bx = 0; bx < 4; bx++) {
        let m = 0;
        for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) m += image[(c * s + by * 4 + y) * s + bx * 4 + x] / 16;
        worst = Math.max(worst, Math.abs(enc.mean.data[(c * 4 + by) * 4 + bx] - (m - shift[c])));
      }
      expect(worst).toBeLessThan(1e-3);
      expect(enc.mean.data.subarray(48).every((v) => Math.abs(v) < 1e-3)).toBe(true);
      const dec = await vae.decode(enc.mean);
      // Each colour comes back divided by its RMS over the picture (the decoder's last GroupNorm, groups of two).
      for (let c = 0; c < 3; c++) {
        const plane = enc.mean.data.subarray(c * 16, c * 16 + 16).map((v) => v + shift[c]);
        const rms = Math.sqrt(plane.reduce((a, v) => a + v * v, 0) / 16);
        for (const [y, x] of [[0, 0], [5, 9], [15, 15]]) expect(dec.data[(c * s + y) * s + x]).toBeCloseTo(plane[Math.floor(y / 4) * 4 + Math.floor(x / 4)] / rms, 3);
      }
      await vae.release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
