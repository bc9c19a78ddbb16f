// Fresh parameters for full-model training from scratch (the default models are trained from nothing,
// no pretrained weights exist here). PyTorch's defaults in spirit: weights uniform with variance
// 1/fan_in (kaiming_uniform with a=√5 gives 1/(3·fan_in); we use the slightly larger LeCun scale so
// deep SiLU stacks keep their activations), biases zero, norm scales one. Names matching `zero` start
// at zero (ControlNet-style zero convs, the last conv of a residual branch), so a fresh block is an
// identity and training starts from a stable point.
import { numel, type Graph } from '../graph/graph.ts';
import type { TrainRng } from './trainRng.ts';

export interface InitOptions {
  /** Parameters (full names) that start at zero. */
  zero?: (name: string) => boolean;
}

const isNormScale = (name: string) => /(^|\.)([^.]*norm[^.]*|ln\w*)\.weight$/.test(name);

export function initParams(g: Graph, rng: TrainRng, opts: InitOptions = {}): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  // Sorted: the values must not depend on the order the graph builder declared parameters in.
  for (const name of [...g.params.keys()].sort()) {
    const shape = g.values[g.params.get(name)!].shape;
    const data = new Float32Array(numel(shape));
    if (opts.zero?.(name)) {
      // zeros
    } else if (isNormScale(name)) {
      data.fill(1);
    } else if (name.endsWith('.weight') && shape.length >= 2) {
      const fanIn = numel(shape.slice(1));
      const bound = Math.sqrt(3 / fanIn);
      for (let i = 0; i < data.length; i++) data[i] = (2 * rng.uniform() - 1) * bound;
    }
    out[name] = data;
  }
  return out;
}

export function paramShapes(g: Graph): Record<string, readonly number[]> {
  return Object.fromEntries([...g.params].map(([name, id]) => [name, g.values[id].shape]));
}
