// Golden handler for diffusers T2IAdapter folders (config.json `_class_name` T2IAdapter + io.json): loads
// the folder with loadT2IAdapter as a user's checkpoint, feeds each case's `caseN.in.image` and checks
// every `caseN.out.featureI` at 1e-4.
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { GoldenHandler } from '../handler.ts';
import { expectClose, fileExists, readF32, readJson } from '../io.ts';
import { loadT2IAdapter } from '../../../src/models/t2iAdapter/load.ts';

interface TensorEntry { file: string; shape: number[] }
interface Io { cases: Record<string, { tensors: Record<string, TensorEntry> }> }

const TOL = 1e-4;

export const handler: GoldenHandler = {
  name: 't2i-adapter',
  recognise(dir) {
    const cfg = join(dir, 'config.json');
    return fileExists(cfg) && fileExists(join(dir, 'io.json')) && readJson<{ _class_name?: string }>(cfg)._class_name === 'T2IAdapter';
  },
  register(dir) {
    const io = readJson<Io>(join(dir, 'io.json'));
    for (const [name, { tensors }] of Object.entries(io.cases)) {
      it(`${name}: features`, async () => {
        const image = tensors[`${name}.in.image`];
        const [batch, , height, width] = image.shape;
        const adapter = await loadT2IAdapter(dir, { batch, height, width, cacheDir: false });
        try {
          const features = await adapter.forward(readF32(join(dir, image.file)));
          const expected = Object.keys(tensors).filter((k) => k.startsWith(`${name}.out.feature`)).sort();
          expect(features.length).toBe(expected.length);
          for (const key of expected) {
            const i = Number(key.slice(`${name}.out.feature`.length));
            expect(adapter.featureShapes[i]).toEqual(tensors[key].shape);
            expectClose(`t2i-adapter ${name} feature${i}`, features[i], readF32(join(dir, tensors[key].file)), TOL);
          }
        } finally {
          await adapter.release();
        }
      });
    }
  },
};
