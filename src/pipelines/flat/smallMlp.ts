// The flat colouriser's small learned models (the pair matcher, the background decision) are the same kind of
// network: standardised features → two SiLU hidden layers → one score. This file holds what they share: the
// parameter layout (what training creates and the safetensors file holds), loading with clear errors, and
// inference in plain TypeScript (a few thousand weights on a few thousand rows cost less than an ORT session).
import { existsSync } from 'node:fs';
import { openSafetensors, SafetensorsError } from '../../weights/safetensors.ts';
import { FlatColorizeError } from './flatError.ts';

/** Linear layers in order; hidden layers use SiLU. Inputs are standardised with `mean` and `std` first. */
export interface MlpModel {
  mean: Float32Array;
  std: Float32Array;
  layers: { weight: Float32Array; bias: Float32Array; inF: number; outF: number }[];
}

export const MLP_LAYERS = ['fc1', 'fc2', 'out'] as const;

/** Parameter names and shapes of an MLP over `inputs` features with hidden widths `hidden`. */
export function mlpShapes(inputs: number, hidden: readonly [number, number]): Record<string, number[]> {
  const widths = [inputs, hidden[0], hidden[1], 1];
  const shapes: Record<string, number[]> = {};
  MLP_LAYERS.forEach((name, k) => {
    shapes[`${name}.weight`] = [widths[k + 1], widths[k]];
    shapes[`${name}.bias`] = [widths[k + 1]];
  });
  return shapes;
}

export function mlpFromParams(params: Readonly<Record<string, Float32Array>>, mean: Float32Array, std: Float32Array): MlpModel {
  return {
    mean, std,
    layers: MLP_LAYERS.map((name) => {
      const weight = params[`${name}.weight`];
      const bias = params[`${name}.bias`];
      return { weight, bias, outF: bias.length, inF: weight.length / bias.length };
    }),
  };
}

/**
 * Loads an MLP from `file`; `what` names it in errors, `features` are the inputs this build computes (the file
 * must have been trained on the same), `retrain` says how to make a new one. Throws FlatColorizeError.
 */
export function loadMlp(file: string, features: readonly string[], what: string, retrain: string): MlpModel {
  if (!existsSync(file)) throw new FlatColorizeError(`${what}: no model file at ${file} (${retrain})`);
  let reader;
  try {
    reader = openSafetensors(file);
  } catch (e) {
    throw new FlatColorizeError(`${what}: ${file} is not a readable safetensors file: ${(e as Error).message}`);
  }
  try {
    const recorded = reader.metadata.features;
    if (recorded !== features.join(',')) {
      throw new FlatColorizeError(`${what}: ${file} was trained on features [${recorded ?? 'none recorded'}], this build computes [${features.join(',')}]; retrain it`);
    }
    const read = (name: string, shape?: number[]): Float32Array => {
      const info = reader.info(name);
      if (shape && info.shape.join('×') !== shape.join('×')) throw new FlatColorizeError(`${what}: ${file}: ${name} is ${info.shape.join('×')}, expected ${shape.join('×')}`);
      return reader.readF32(name);
    };
    const hidden = [reader.info('fc1.bias').shape[0], reader.info('fc2.bias').shape[0]] as [number, number];
    const shapes = mlpShapes(features.length, hidden);
    const params = Object.fromEntries(Object.entries(shapes).map(([name, shape]) => [name, read(name, shape)]));
    const model = mlpFromParams(params, read('input.mean', [features.length]), read('input.std', [features.length]));
    for (const v of [model.mean, model.std, ...model.layers.flatMap((l) => [l.weight, l.bias])]) {
      if (!v.every(Number.isFinite)) throw new FlatColorizeError(`${what}: ${file} holds non-finite weights`);
    }
    return model;
  } catch (e) {
    if (e instanceof SafetensorsError) throw new FlatColorizeError(`${what}: ${file}: ${e.message}`);
    throw e;
  } finally {
    reader.close();
  }
}

/** Scores `n` feature rows (row-major, model.mean.length features each). */
export function mlpScores(model: MlpModel, features: Float32Array, n: number): Float32Array {
  const F = model.mean.length;
  const width = Math.max(...model.layers.map((l) => l.outF), F);
  let x = new Float32Array(width);
  let y = new Float32Array(width);
  const out = new Float32Array(n);
  for (let p = 0; p < n; p++) {
    for (let k = 0; k < F; k++) x[k] = (features[p * F + k] - model.mean[k]) / model.std[k];
    model.layers.forEach((l, li) => {
      const last = li === model.layers.length - 1;
      for (let o = 0; o < l.outF; o++) {
        let s = l.bias[o];
        const w = o * l.inF;
        for (let i = 0; i < l.inF; i++) s += l.weight[w + i] * x[i];
        y[o] = last ? s : s / (1 + Math.exp(-s)); // SiLU
      }
      [x, y] = [y, x];
    });
    out[p] = x[0];
  }
  return out;
}
