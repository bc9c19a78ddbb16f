// The TAESD decoder graph against a direct reading of its layout (a plain-JS forward written from the
// nn.Sequential description, independent of the IR), loaded from a file with the published key names.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTaesdDecoder, loadTaesdDecoder } from './loadTaesd.ts';
import { writeRandomTaesdDecoder } from '../../../test/taesdFile.ts';
import { writeSafetensors } from '../../weights/safetensors.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-taesd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type T = { c: number; h: number; w: number; d: Float32Array };
type Params = Map<string, { shape: readonly number[]; data: Float32Array }>;

function conv3(x: T, p: Params, name: string, bias: boolean): T {
  const wt = p.get(`${name}.weight`)!;
  const [oc, ic] = wt.shape;
  const b = bias ? p.get(`${name}.bias`)!.data : undefined;
  const out = new Float32Array(oc * x.h * x.w);
  for (let o = 0; o < oc; o++) {
    for (let y = 0; y < x.h; y++) {
      for (let xx = 0; xx < x.w; xx++) {
        let s = b ? b[o] : 0;
        for (let i = 0; i < ic; i++) {
          for (let ky = 0; ky < 3; ky++) {
            const yy = y + ky - 1;
            if (yy < 0 || yy >= x.h) continue;
            for (let kx = 0; kx < 3; kx++) {
              const xs = xx + kx - 1;
              if (xs < 0 || xs >= x.w) continue;
              s += x.d[(i * x.h + yy) * x.w + xs] * wt.data[((o * ic + i) * 3 + ky) * 3 + kx];
            }
          }
        }
        out[(o * x.h + y) * x.w + xx] = s;
      }
    }
  }
  return { c: oc, h: x.h, w: x.w, d: out };
}
const relu = (x: T): T => ({ ...x, d: x.d.map((v) => Math.max(0, v)) });
const up2 = (x: T): T => {
  const d = new Float32Array(x.c * x.h * 4 * x.w);
  for (let c = 0; c < x.c; c++) for (let y = 0; y < 2 * x.h; y++) for (let xx = 0; xx < 2 * x.w; xx++) d[(c * 2 * x.h + y) * 2 * x.w + xx] = x.d[(c * x.h + (y >> 1)) * x.w + (xx >> 1)];
  return { c: x.c, h: 2 * x.h, w: 2 * x.w, d };
};
function block(x: T, p: Params, i: number): T {
  let h = relu(conv3(x, p, `${i}.conv.0`, true));
  h = relu(conv3(h, p, `${i}.conv.2`, true));
  h = conv3(h, p, `${i}.conv.4`, true);
  return relu({ ...h, d: h.d.map((v, k) => v + x.d[k]) });
}
function referenceDecode(z: T, p: Params): T {
  let h: T = { ...z, d: z.d.map((v) => Math.tanh(v / 3) * 3) };
  h = relu(conv3(h, p, '1', true));
  for (const [blocks, c] of [[[3, 4, 5], 7], [[8, 9, 10], 12], [[13, 14, 15], 17]] as const) {
    for (const b of blocks) h = block(h, p, b);
    h = conv3(up2(h), p, String(c), false);
  }
  h = conv3(block(h, p, 18), p, '19', true);
  return { ...h, d: h.d.map((v) => Math.min(1, Math.max(0, v))) };
}

describe('TAESD decoder', () => {
  it('loads a file with the published key names and decodes as the layout says (8× size, RGB in [0, 1])', async () => {
    const path = join(dir, 'taesd_decoder.safetensors');
    const params = await writeRandomTaesdDecoder(path, 7);
    const decoder = loadTaesdDecoder(path, { cacheDir: false });
    try {
      const h = 2, w = 3;
      const z = Float32Array.from({ length: 4 * h * w }, (_, i) => Math.sin(i * 1.7) * 4);
      const got = await decoder.decode(z, [1, 4, h, w]);
      expect(got.shape).toEqual([1, 3, 8 * h, 8 * w]);
      const want = referenceDecode({ c: 4, h, w, d: z }, params);
      let maxErr = 0;
      for (let i = 0; i < want.d.length; i++) maxErr = Math.max(maxErr, Math.abs(got.data[i] - want.d[i]));
      expect(maxErr).toBeLessThan(1e-4);
      // Random weights must exercise the clamp both ways and the middle, or the comparison proves little.
      const inside = got.data.filter((v) => v > 0 && v < 1).length;
      expect(inside).toBeGreaterThan(got.data.length / 10);
    } finally {
      await decoder.release();
    }
  });

  it('refuses a file that is not a TAESD decoder, naming what is wrong', async () => {
    const path = join(dir, 'broken.safetensors');
    const params = await writeRandomTaesdDecoder(join(dir, 'full.safetensors'), 3);
    params.delete('8.conv.2.bias');
    await writeSafetensors(path, [...params].map(([name, t]) => ({ name, dtype: 'F32' as const, shape: t.shape, data: t.data })));
    expect(() => loadTaesdDecoder(path, { cacheDir: false })).toThrow(/missing "8\.conv\.2\.bias"/);
  });

  it('is found as ComfyUI finds it: the family\'s name prefix, safetensors only (a .pth pickle is never read)', () => {
    const folder = mkdtempSync(join(dir, 'vae_approx-'));
    writeFileSync(join(folder, 'taesd_decoder.pth'), 'pickle');
    expect(findTaesdDecoder([folder], 'sd1')).toBeUndefined();
    writeFileSync(join(folder, 'taesdxl_decoder.safetensors'), '');
    writeFileSync(join(folder, 'taesd_decoder.safetensors'), '');
    expect(findTaesdDecoder([join(dir, 'absent'), folder], 'sd1')).toBe(join(folder, 'taesd_decoder.safetensors'));
    expect(findTaesdDecoder([folder], 'sd2')).toBe(join(folder, 'taesd_decoder.safetensors'));
    expect(findTaesdDecoder([folder], 'sdxl')).toBe(join(folder, 'taesdxl_decoder.safetensors'));
  });
});
