// Golden handler for diffusers AutoencoderKL folders (config.json with _class_name AutoencoderKL + io.json):
// encode (moments, latent mean/logvar), reconstruction = decode(mean), decode of given latents, and every
// per-module trace, at 1e-4.
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { GoldenHandler } from '../handler.ts';
import { expectClose, fileExists, readF32, readJson } from '../io.ts';
import { compile } from '../../../src/runtime/session.ts';
import { openSafetensors } from '../../../src/weights/safetensors.ts';
import { safetensorsWeights } from '../../../src/weights/store.ts';
import { parseVaeConfig } from '../../../src/models/vae/config.ts';
import { vaeEncodeGraph } from '../../../src/models/vae/encoder.ts';
import { vaeDecodeGraph } from '../../../src/models/vae/decoder.ts';
import { vaeModel } from '../../../src/models/vae/loadVae.ts';

interface TensorEntry { file: string; shape: number[]; dtype: string }
interface IoJson { cases: Record<string, { tensors: Record<string, TensorEntry> }> }

const TOL = 1e-4;

export const handler: GoldenHandler = {
  name: 'vae',
  recognise(dir) {
    if (!fileExists(join(dir, 'config.json')) || !fileExists(join(dir, 'io.json'))) return false;
    return readJson<{ _class_name?: string }>(join(dir, 'config.json'))._class_name === 'AutoencoderKL';
  },
  register(dir) {
    const config = parseVaeConfig(readJson(join(dir, 'config.json')), join(dir, 'config.json'));
    const io = readJson<IoJson>(join(dir, 'io.json'));
    const store = () => safetensorsWeights(openSafetensors(join(dir, 'weights.safetensors')));
    const load = (e: TensorEntry) => readF32(join(dir, e.file));

    for (const [caseName, { tensors }] of Object.entries(io.cases)) {
      const entry = (kind: string) => tensors[`${caseName}.${kind}`];
      const image = entry('in.image');
      const latents = entry('in.latents');
      if (image) {
        it(`${caseName}: encode outputs and encoder traces`, async () => {
          const model = await compile(vaeEncodeGraph(config, image.shape, { traces: true }), store(), { cacheDir: false });
          const out = await model.run({ image: { dtype: 'f32', shape: image.shape, data: load(image) } });
          let checked = 0;
          for (const name of ['moments', 'latent_mean', 'latent_logvar']) {
            expect(out[name].shape).toEqual(entry(`out.${name}`).shape);
            expectClose(`vae ${caseName} ${name}`, out[name].data as Float32Array, load(entry(`out.${name}`)), TOL);
            checked++;
          }
          for (const [key, e] of Object.entries(tensors)) {
            const trace = key.slice(`${caseName}.trace.`.length);
            if (!key.startsWith(`${caseName}.trace.`) || !out[`trace.${trace}`]) continue;
            expectClose(`vae ${caseName} trace ${trace}`, out[`trace.${trace}`].data as Float32Array, load(e), TOL);
            checked++;
          }
          expect(checked).toBeGreaterThan(3);
          await model.release();
        });
        it(`${caseName}: reconstruction = decode(latent_mean) and decoder traces`, async () => {
          const mean = entry('out.latent_mean');
          const model = await compile(vaeDecodeGraph(config, mean.shape, { traces: true }), store(), { cacheDir: false });
          const out = await model.run({ latents: { dtype: 'f32', shape: mean.shape, data: load(mean) } });
          expectClose(`vae ${caseName} reconstruction`, out.image.data as Float32Array, load(entry('out.reconstruction')), TOL);
          let traces = 0;
          for (const [key, e] of Object.entries(tensors)) {
            const trace = key.slice(`${caseName}.trace.`.length);
            if (!key.startsWith(`${caseName}.trace.`) || !/^(decoder|post_quant_conv)/.test(trace)) continue;
            expect(out[`trace.${trace}`], `trace ${trace} produced`).toBeDefined();
            expectClose(`vae ${caseName} trace ${trace}`, out[`trace.${trace}`].data as Float32Array, load(e), TOL);
            traces++;
          }
          expect(traces).toBeGreaterThan(0);
          await model.release();
        });
      }
      if (latents) {
        it(`${caseName}: decode(latents) through VaeModel`, async () => {
          const vae = vaeModel(config, store(), { cacheDir: false });
          const out = await vae.decode({ shape: latents.shape, data: load(latents) }, { tiled: false });
          expect(out.shape).toEqual(entry('out.decoded').shape);
          expectClose(`vae ${caseName} decoded`, out.data, load(entry('out.decoded')), TOL);
          await vae.release();
        });
      }
    }
  },
};
