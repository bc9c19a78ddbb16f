// Golden handler for diffusers ControlNetModel goldens: a folder whose manifest.json lists `variants`
// with ControlNetModel configs (shared/golden/controlnet/), or one such variant folder (config.json
// `_class_name` ControlNetModel) with the manifest in its parent. Each variant present on disk is loaded
// with loadControlNet exactly as a user's diffusers folder; every manifest case (timestep forms,
// conditioning scale, guess mode) checks down_0..K and mid, plus the conditioning embedding, at 1e-4.
import { dirname, join } from 'node:path';
import { expect, it } from 'vitest';
import type { GoldenHandler } from '../handler.ts';
import { expectClose, fileExists, readF32, readJson } from '../io.ts';
import { loadControlNet, type LoadedControlNet } from '../../../src/models/controlnet/load.ts';

interface TensorEntry { file: string; shape: number[] }
interface CaseEntry {
  timestep: number | number[];
  conditioning_scale: number;
  guess_mode: boolean;
  down_block_res_samples: string[];
  mid_block_res_sample: string;
}
interface Variant {
  dir: string;
  config: { _class_name?: string };
  cases: Record<string, CaseEntry>;
  tensors: Record<string, TensorEntry>;
}
interface Manifest { variants?: Record<string, Variant> }

const TOL = 1e-4;

function manifestVariants(dir: string): Record<string, Variant> {
  const path = join(dir, 'manifest.json');
  if (!fileExists(path)) return {};
  const m = readJson<Manifest>(path);
  const all = m.variants ?? {};
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v.config?._class_name === 'ControlNetModel'));
}

function isControlNetFolder(dir: string): boolean {
  const cfg = join(dir, 'config.json');
  return fileExists(cfg) && readJson<{ _class_name?: string }>(cfg)._class_name === 'ControlNetModel';
}

function registerVariant(name: string, dir: string, v: Variant): void {
  const load = (k: string) => readF32(join(dir, v.tensors[k].file));
  const sampleShape = v.tensors.in_sample.shape;
  const shapes = { batch: sampleShape[0], height: sampleShape[2], width: sampleShape[3], seqLen: v.tensors.in_encoder_hidden_states.shape[1] };
  const inputs = () => ({ sample: load('in_sample'), encoderHiddenStates: load('in_encoder_hidden_states'), cond: load('in_controlnet_cond') });

  for (const guessMode of [false, true]) {
    const cases = Object.entries(v.cases).filter(([, c]) => c.guess_mode === guessMode);
    if (!cases.length) continue;
    it(`${name}: ${cases.map(([c]) => c).join(', ')} (guess_mode ${guessMode}): down residuals, mid, cond embedding`, async () => {
      const cn: LoadedControlNet = await loadControlNet(dir, { ...shapes, guessMode, traceCondEmbedding: true, cacheDir: false });
      try {
        expect(cn.source.layout).toBe('diffusers');
        for (const [caseName, c] of cases) {
          const out = await cn.forward({ ...inputs(), timestep: c.timestep, scale: c.conditioning_scale });
          expect(out.down.length, `${caseName}: residual count`).toBe(c.down_block_res_samples.length);
          c.down_block_res_samples.forEach((key, k) => {
            expectClose(`controlnet ${name} ${caseName} down_${k}`, out.down[k], load(key), TOL);
          });
          expectClose(`controlnet ${name} ${caseName} mid`, out.mid, load(c.mid_block_res_sample), TOL);
          if (v.tensors.dbg_controlnet_cond_embedding) {
            expectClose(`controlnet ${name} ${caseName} controlnet_cond_embedding`, out.condEmbedding!, load('dbg_controlnet_cond_embedding'), TOL);
          }
        }
      } finally {
        await cn.release();
      }
    });
  }
}

export const handler: GoldenHandler = {
  name: 'controlnet',
  recognise(dir) {
    if (Object.keys(manifestVariants(dir)).length > 0) return true;
    return isControlNetFolder(dir) && Object.values(manifestVariants(dirname(dir))).length > 0;
  },
  register(dir) {
    const own = manifestVariants(dir);
    const variants = Object.keys(own).length ? Object.entries(own).map(([n, v]) => [n, join(dir, v.dir), v] as const)
      : Object.entries(manifestVariants(dirname(dir))).filter(([, v]) => join(dirname(dir), v.dir) === dir).map(([n, v]) => [n, dir, v] as const);
    let registered = 0;
    for (const [name, vdir, v] of variants) {
      if (!isControlNetFolder(vdir)) continue; // the manifest lists variants this copy does not ship
      registerVariant(name, vdir, v);
      registered++;
    }
    if (!registered) it.todo(`controlnet: none of ${variants.map(([n]) => n).join(', ')} is present`);
  },
};
