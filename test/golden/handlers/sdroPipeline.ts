// Golden handler for the end-to-end SDRO pipeline (golden/sdro_pipeline/): the folder is loaded exactly as a
// user's model folder (model_index.json + component subfolders), reference.png and blueprint.png are coloured
// for every run in manifest.json, and every recorded tensor is compared at 1e-4, the uint8 image at ±1.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GoldenHandler } from '../handler.ts';
import { expectClose, fileExists, readBin, type BinDType } from '../io.ts';
import { decodeImage } from '../../../src/imaging/image.ts';
import { loadSdroPipeline, unscaleLatents, type SdroPipeline, type SdroTrace } from '../../../src/pipelines/colorize/sdro.ts';
import { isSdroFolder } from '../../../src/pipelines/colorize/sdroFolder.ts';

const TOL = 1e-4;

interface TensorEntry { file: string; dtype: BinDType; shape: number[] }
interface Run {
  num_inference_steps: number;
  generator?: string;
  scheduler_overrides?: Record<string, unknown>;
  timesteps: number[];
  latent_shape: number[];
  output_hw: [number, number];
  tensors: Record<string, TensorEntry>;
}
interface Manifest {
  seed?: number;
  runs: Record<string, Run>;
  conditioning?: Record<string, TensorEntry>;
}

function readManifest(dir: string): Manifest | null {
  const p = join(dir, 'manifest.json');
  if (!fileExists(p)) return null;
  try {
    const m = JSON.parse(readFileSync(p, 'utf8')) as Partial<Manifest>;
    return m.runs && typeof m.runs === 'object' ? (m as Manifest) : null;
  } catch {
    return null;
  }
}

/** The run's seed: from its generator description ("torch.Generator('cpu').manual_seed(0)"), else the manifest's. */
function runSeed(run: Run, manifest: Manifest): number {
  const m = /manual_seed\((\d+)\)/.exec(run.generator ?? '');
  if (m) return Number(m[1]);
  if (typeof manifest.seed === 'number') return manifest.seed;
  throw new Error('sdro golden: run has no seed');
}

function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Our traced tensor for each manifest tensor name. */
function traced(trace: SdroTrace, name: string): ArrayLike<number> | undefined {
  switch (name) {
    case 'initial_latents': return trace.initialLatents.data;
    case 'unet_inputs': return concat(trace.unetInputs);
    case 'noise_preds': return concat(trace.noisePreds);
    case 'x0_preds': return concat(trace.x0Preds);
    case 'latents_after_step': return concat(trace.latentsAfterStep);
    case 'final_latents': return trace.finalLatents.data;
    case 'vae_decode_input': return trace.vaeDecodeInput.data;
    case 'decoded': return trace.decoded.data;
    case 'reference_pixel_values': return trace.referencePixelValues.data;
    case 'clip_last_hidden_state': return trace.clipLastHiddenState.data;
    case 'blueprint_tensor': return trace.blueprintTensor.data;
    default: return undefined;
  }
}

export const handler: GoldenHandler = {
  name: 'sdro pipeline',
  recognise(dir) {
    if (isSdroFolder(dir)) return true;
    const m = readManifest(dir);
    if (!m || !fileExists(join(dir, 'model_index.json'))) return false;
    // SDXL pipeline goldens also have runs + model_index.json: they belong to the sdxl handler.
    const index = JSON.parse(readFileSync(join(dir, 'model_index.json'), 'utf8')) as { _class_name?: unknown };
    return !/StableDiffusionXL/.test(String(index._class_name ?? ''));
  },
  register(dir) {
    const manifest = readManifest(dir);
    let pipe: SdroPipeline;
    beforeAll(async () => {
      pipe = await loadSdroPipeline(dir, { cacheDir: false });
    });
    afterAll(async () => {
      await pipe?.release();
    });
    it('has recorded runs', () => {
      expect(manifest, `${dir}/manifest.json with runs`).not.toBeNull();
      expect(Object.keys(manifest!.runs).length).toBeGreaterThan(0);
    });
    if (!manifest) return;
    const tensorDir = join(dir, 'tensors');

    for (const [runName, run] of Object.entries(manifest.runs)) {
      it(`${runName}: every recorded tensor (1e-4) and the image (±1)`, async () => {
        const reference = await decodeImage(join(dir, 'reference.png'), 3);
        const blueprint = await decodeImage(join(dir, 'blueprint.png'), 3);
        const steps: number[] = [];
        const res = await pipe.colorize({
          reference, blueprint, steps: run.num_inference_steps, seed: runSeed(run, manifest),
          schedulerOverrides: run.scheduler_overrides, trace: true, tiledDecode: false,
          onProgress: (p) => { if (p.phase === 'step') steps.push(p.step); },
        });
        const trace = res.trace!;
        expect(steps).toEqual(run.timesteps.map((_, i) => i + 1));
        expect(res.timesteps).toEqual(run.timesteps);
        expect([res.image.height, res.image.width]).toEqual(run.output_hw);
        expect(res.latents.shape).toEqual(run.latent_shape);

        // The conditioning tensors are shared by all runs; check them with every run (cheap).
        const all: [string, TensorEntry, string][] = [
          ...Object.entries(manifest.conditioning ?? {}).map(([n, e]): [string, TensorEntry, string] => [n, e, join(tensorDir, e.file)]),
          ...Object.entries(run.tensors).map(([n, e]): [string, TensorEntry, string] => [n, e, join(tensorDir, runName, e.file)]),
        ];
        let checked = 0;
        for (const [name, entry, path] of all) {
          const expected = readBin(path, entry.dtype);
          if (name === 'timesteps') {
            expect(Array.from(expected as BigInt64Array, Number)).toEqual(trace.timesteps);
          } else if (name === 'image_uint8') {
            const got = res.image.data;
            expect(got.length).toBe(expected.length);
            let worst = 0;
            let differing = 0;
            for (let i = 0; i < got.length; i++) {
              const d = Math.abs(got[i] - (expected as Uint8Array)[i]);
              if (d > 0) differing++;
              worst = Math.max(worst, d);
            }
            console.log(`[golden] sdro ${runName} image_uint8: max abs err ${worst} (tol 1), ${differing} values differ`);
            expect(worst).toBeLessThanOrEqual(1);
          } else if (name === 'vae_decode_input') {
            // final_latents / scaling_factor: the division itself must be exact (checked on the recorded
            // final latents); the float32 error already in our final latents (gated at 1e-4 above) grows by
            // 1/scaling_factor, so the end-to-end comparison uses that scaled tolerance.
            const scaling = pipe.vaeScalingFactor;
            const finalEntry = run.tensors.final_latents;
            if (finalEntry) {
              const fromRecorded = unscaleLatents(readBin(join(tensorDir, runName, finalEntry.file), 'float32') as Float32Array, scaling);
              expectClose(`sdro ${runName} vae_decode_input from recorded final_latents`, fromRecorded, expected as Float32Array, 0);
            }
            expectClose(`sdro ${runName} vae_decode_input`, trace.vaeDecodeInput.data, expected as Float32Array, TOL / scaling);
          } else {
            const actual = traced(trace, name);
            expect(actual, `traced tensor for ${name}`).toBeDefined();
            expectClose(`sdro ${runName} ${name}`, actual!, expected as Float32Array, TOL);
          }
          checked++;
        }
        expect(checked).toBe(all.length);
      });
    }
  },
};
