// A compiled training graph: the forward graph differentiated by grad() (graph/autodiff.ts) and
// opened as an ORT session. One run() per micro-batch returns the loss and the gradients of the
// trainable parameters, which are fed as inputs; frozen weights are initializers (f16 if asked).
import type { Graph } from '../graph/graph.ts';
import { grad, gradOutputName, LOSS_OUTPUT } from '../graph/autodiff.ts';
import type { WeightStore } from '../graph/weights.ts';
import { compile, type CompileOptions, type CompiledModel } from '../runtime/session.ts';
import type { RuntimeTensor } from '../runtime/ortSession.ts';

export interface TrainingStepResult {
  loss: number;
  /** dL/dθ per trainable parameter name, float32 in the parameter's shape. */
  grads: Record<string, Float32Array>;
  /** Forward outputs kept with `keepOutputs`. */
  outputs: Record<string, Float32Array>;
}

export interface TrainingModel {
  readonly trainable: readonly string[];
  readonly graph: Graph;
  readonly model: CompiledModel;
  /** Runs forward and backward on `feeds` (data inputs) at parameter values `params`. */
  /** A bare Float32Array feed is f32 in the input's declared shape; other dtypes (token ids) come as RuntimeTensor. */
  step(params: Readonly<Record<string, Float32Array>>, feeds: Readonly<Record<string, Float32Array | RuntimeTensor>>): Promise<TrainingStepResult>;
  release(): Promise<void>;
}

export interface TrainingCompileOptions extends CompileOptions {
  keepOutputs?: readonly string[];
}

/**
 * Differentiates `forward`'s output `loss` with respect to `trainable` and compiles the result.
 * `frozen` serves every parameter that is not trained (the trainable ones are never read from it).
 */
export async function compileTraining(forward: Graph, loss: string, trainable: readonly string[], frozen: WeightStore, opts: TrainingCompileOptions = {}): Promise<TrainingModel> {
  const graph = grad(forward, loss, trainable, { keepOutputs: opts.keepOutputs });
  // A frozen f16 weight is read by the forward and again by the backward: cast it per use, so no f32 copy
  // of every weight lives from the forward pass to the backward (SD1.5 LoRA: 9.2 → 7.1 GB peak).
  const model = await compile(graph, frozen, { castPerUse: true, ...opts });
  return {
    trainable, graph, model,
    async step(params, feeds) {
      const out = await model.run({ ...feeds, ...params });
      const grads: Record<string, Float32Array> = {};
      for (const name of trainable) grads[name] = out[gradOutputName(name)].data as Float32Array;
      const outputs: Record<string, Float32Array> = {};
      for (const name of opts.keepOutputs ?? []) outputs[name] = out[name].data as Float32Array;
      return { loss: (out[LOSS_OUTPUT].data as Float32Array)[0], grads, outputs };
    },
    release: () => model.release(),
  };
}
