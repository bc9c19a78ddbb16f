// Golden handler for comfy_samplers/: ComfyUI KSampler trajectories with the README's dummy model
// (SD1.x ModelSamplingDiscrete EPS, eps = x_in · t/(t + 1) with the integer timestep t).
// One test per case folder (any subfolder holding case.json), checking the sigmas, the seeded
// noise, x_init, every callback x / denoised, the final latent, the node output, the model-call
// timesteps and the ancestral noise stream, all at 1e-4.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { GoldenHandler } from '../handler.ts';
import { fileExists, maxAbsDiff, readF32, readJson } from '../io.ts';
import { createTorchGenerator } from '../../../src/sampling/torchRandom.ts';
import { comfySample } from '../../../src/sampling/comfy/ksampler.ts';
import { createModelSamplingDiscrete } from '../../../src/sampling/comfy/modelSamplingDiscrete.ts';
import type { Denoiser } from '../../../src/sampling/comfy/types.ts';

const TOL = 1e-4;

interface CaseJson {
  sampler: string;
  scheduler: string;
  seed: number;
  steps: number;
  denoise: number;
  sigmas: number[];
  max_denoise: boolean;
  shapes: Record<string, number[]>;
  model_calls?: { sigma: number[]; t: number[] }[];
  ancestral_noise?: { count: number; shape: number[] } | null;
}

const modelSampling = createModelSamplingDiscrete();

/** The README's dummy UNet wrapped like BaseModel.apply_model; records every (sigma, t). */
function dummyModel(calls: { sigma: number; t: number }[]): Denoiser {
  return (x, sigma) => {
    const t = modelSampling.timestep(sigma);
    calls.push({ sigma, t });
    const xIn = modelSampling.calculateInput(sigma, x);
    const c = Math.fround(t / (t + 1));
    const eps = xIn.map((v) => v * c);
    return modelSampling.calculateDenoised(sigma, eps, x);
  };
}

function stack(frames: Float32Array[]): Float32Array {
  const out = new Float32Array(frames.reduce((n, f) => n + f.length, 0));
  let o = 0;
  for (const f of frames) { out.set(f, o); o += f.length; }
  return out;
}

function registerCase(dir: string, name: string): void {
  it(`${name}`, async () => {
    const c = readJson<CaseJson>(join(dir, 'case.json'));
    const file = (f: string) => join(dir, f);
    const latentShape = c.shapes['noise.bin'];
    const latentImage = fileExists(file('latent_image.bin')) ? readF32(file('latent_image.bin')) : null;
    const calls: { sigma: number; t: number }[] = [];
    const xs: Float32Array[] = [];
    const denoiseds: Float32Array[] = [];
    let callbackTotal = -1;

    const result = await comfySample({
      sampler: c.sampler,
      scheduler: c.scheduler,
      steps: c.steps,
      denoise: c.denoise,
      seed: BigInt(c.seed),
      model: dummyModel(calls),
      latentShape,
      latentImage,
      callback: (i, denoised, x, total) => {
        expect(i).toBe(xs.length);
        xs.push(x.slice());
        denoiseds.push(denoised.slice());
        callbackTotal = total;
      },
    });

    const errors: Record<string, number> = {};
    const check = (label: string, actual: Float32Array, expected: Float32Array) => {
      expect(actual.length, `${label}: length`).toBe(expected.length);
      errors[label] = maxAbsDiff(actual, expected);
    };
    const sigmas = readF32(file('sigmas.bin'));
    check('sigmas', result.sigmas, sigmas);
    check('noise', result.noise, readF32(file('noise.bin')));
    check('x_init', result.xInit, readF32(file('x_init.bin')));
    const steps = sigmas.length - 1;
    expect(xs.length, 'callback count').toBe(steps);
    expect(callbackTotal).toBe(steps);
    check('denoised_steps', stack(denoiseds), readF32(file('denoised_steps.bin')));
    const xSteps = readF32(file('x_steps.bin'));
    if (fileExists(file('callback_x.bin'))) {
      // uni_pc: the callback x is VP-space; x_steps = callback_x · √(1 + timesteps[i+1]²).
      check('callback_x', stack(xs), readF32(file('callback_x.bin')));
      const ts = Float32Array.from(sigmas);
      if (ts[ts.length - 1] === 0) ts[ts.length - 1] = 0.001;
      const kx = xs.map((x, i) => x.map((v) => v * Math.fround(Math.sqrt(Math.fround(1 + Math.fround(ts[i + 1] * ts[i + 1]))))));
      check('x_steps', stack(kx), xSteps);
    } else {
      // k-diffusion: the callback x is the input of step i, so x_steps = [callback x…][1:] + [final].
      check('x_steps', stack([...xs.slice(1), result.samples]), xSteps);
    }
    check('final', result.samples, readF32(file('final.bin')));
    check('output_latent', result.latent, readF32(file('output_latent.bin')));
    expect(result.maxDenoise, 'max_denoise').toBe(c.max_denoise);

    if (c.model_calls) {
      expect(calls.length, 'model calls').toBe(c.model_calls.length);
      const wrongT = calls.filter((call, k) => call.t !== c.model_calls![k].t[0]).length;
      expect(wrongT, 'model calls with a different integer timestep').toBe(0);
      check('model_call_sigmas', Float32Array.from(calls, (k) => k.sigma), Float32Array.from(c.model_calls, (k) => k.sigma[0]));
    }
    if (fileExists(file('ancestral_noise.bin'))) {
      // The noise sampler is a fresh generator seeded with the seed: draw k continues the stream.
      const expected = readF32(file('ancestral_noise.bin'));
      const g = createTorchGenerator(BigInt(c.seed));
      const count = expected.length / result.noise.length;
      check('ancestral_noise', stack(Array.from({ length: count }, () => g.randn(latentShape))), expected);
    }

    const worst = Math.max(...Object.values(errors));
    const detail = Object.entries(errors).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ');
    console.log(`[golden] comfy ${name}: max abs err ${worst.toExponential(3)} (tol ${TOL}); ${detail}`);
    for (const [label, err] of Object.entries(errors)) expect(err, `${name} ${label}`).toBeLessThanOrEqual(TOL);
  });
}

export const handler: GoldenHandler = {
  name: 'comfy samplers',
  recognise(dir) {
    const p = join(dir, 'index.json');
    if (!fileExists(p)) return false;
    const index = readJson<{ cases?: unknown }>(p);
    return Array.isArray(index.cases) && index.cases.every((k) => typeof k === 'object' && k !== null && 'sampler' in k && 'scheduler' in k);
  },
  register(dir) {
    const index = readJson<{ cases: { name: string }[] }>(join(dir, 'index.json'));
    const folders = readdirSync(dir)
      .filter((n) => statSync(join(dir, n)).isDirectory() && fileExists(join(dir, n, 'case.json')))
      .sort();
    it('index.json lists only existing case folders', () => {
      const missing = index.cases.map((k) => k.name).filter((n) => !folders.includes(n));
      expect(missing).toEqual([]);
    });
    for (const name of folders) registerCase(join(dir, name), name);
  },
};
