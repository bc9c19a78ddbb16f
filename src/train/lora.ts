// LoRA on the graph IR: a rewrite that adds a low-rank branch beside every Linear whose weight matches
// the targets (attention projections by default, as kohya's networks.lora does for the UNet):
//   y = x·Wᵀ + (alpha/rank) · (x·downᵀ)·upᵀ,  down [rank, in], up [out, rank]
// The base weights stay frozen parameters (initializers); only down/up are trained. The trained
// branches save as a kohya-format safetensors (lora_unet_<module with . → _>.lora_down/lora_up/alpha,
// ss_* metadata) that weights/lora.ts merges back, as ComfyUI and A1111 do.
import { type Graph, type Node, type Tensor, Graph as GraphClass, GraphError } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import { writeSafetensors } from '../weights/safetensors.ts';
import type { TrainRng } from './trainRng.ts';

/** kohya's default UNet LoRA targets: the q/k/v/out projections of every attention. */
export const ATTENTION_PROJECTIONS = /(?:^|\.)attn\d\.(?:to_q|to_k|to_v|to_out\.0)\.weight$/;

export interface LoraConfig {
  rank: number;
  alpha: number;
  /** Which weight parameters (of Linears: MatMul by a transposed 2-D parameter) get a branch. */
  targets?: RegExp;
}

export interface LoraModule {
  /** The base module name, e.g. `down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`. */
  module: string;
  down: string;
  up: string;
  inFeatures: number;
  outFeatures: number;
}

export const loraParamNames = (module: string) => ({ down: `${module}.lora_down.weight`, up: `${module}.lora_up.weight` });

/** A copy of `forward` with LoRA branches on the matching Linears; the new parameters are listed in `modules`. */
export function addLoraBranches(forward: Graph, cfg: LoraConfig): { graph: Graph; modules: LoraModule[] } {
  if (!Number.isInteger(cfg.rank) || cfg.rank < 1) throw new GraphError(`LoRA rank must be a positive integer, got ${cfg.rank}`);
  const targets = cfg.targets ?? ATTENTION_PROJECTIONS;
  const producer = new Map<number, Node>();
  for (const n of forward.nodes) for (const id of n.outputs) producer.set(id, n);
  const out = new GraphClass(forward.name);
  const map = new Map<number, Tensor>();
  for (const v of forward.values) {
    if (v.kind === 'input') map.set(v.id, out.input(v.name!, v.dtype, v.shape));
    else if (v.kind === 'param') map.set(v.id, out.param(v.name!, v.shape, v.dtype));
    else if (v.kind === 'const') map.set(v.id, out.constant(forward.consts.get(v.id)!));
  }
  const modules = new Map<string, LoraModule>();
  for (const n of forward.nodes) {
    const results = out.addNode(n.op, n.inputs.map((id) => map.get(id)!), n.attrs, n.outputs.map((id) => forward.values[id]));
    let y = results[0];
    const weight = linearWeight(forward, producer, n);
    if (weight && targets.test(weight.name)) {
      const module = weight.name.slice(0, -'.weight'.length);
      const [outF, inF] = weight.shape;
      const names = loraParamNames(module);
      modules.set(module, { module, ...names, inFeatures: inF, outFeatures: outF });
      const down = out.param(names.down, [cfg.rank, inF]);
      const up = out.param(names.up, [outF, cfg.rank]);
      const x = map.get(n.inputs[0])!;
      const branch = op.matmul(op.matmul(x, op.transpose(down, [1, 0])), op.transpose(up, [1, 0]));
      y = op.add(y, op.mul(branch, cfg.alpha / cfg.rank));
    }
    map.set(n.outputs[0], y);
    n.outputs.slice(1).forEach((id, i) => map.set(id, results[i + 1]));
  }
  for (const o of forward.outputs) out.output(o.name, map.get(o.id)!);
  if (modules.size === 0) throw new GraphError(`LoRA: no Linear weight matches ${targets}`);
  return { graph: out, modules: [...modules.values()] };
}

/** The 2-D parameter W of a Linear node (MatMul(x, Transpose(W, [1,0]))), if `n` is one. */
function linearWeight(g: Graph, producer: ReadonlyMap<number, Node>, n: Node): { name: string; shape: readonly number[] } | undefined {
  if (n.op !== 'MatMul') return undefined;
  const t = producer.get(n.inputs[1]);
  if (!t || t.op !== 'Transpose' || (t.attrs.perm as number[]).join() !== '1,0') return undefined;
  const w = g.values[t.inputs[0]];
  return w.kind === 'param' && w.shape.length === 2 ? { name: w.name!, shape: w.shape } : undefined;
}

/**
 * kohya's initialisation: down ~ U(−1/√in, 1/√in) (kaiming_uniform with a = √5), up = 0, so the
 * untrained LoRA leaves the model unchanged.
 */
export function initLoraParams(modules: readonly LoraModule[], rank: number, rng: TrainRng): Record<string, Float32Array> {
  const params: Record<string, Float32Array> = {};
  for (const m of modules) {
    const bound = 1 / Math.sqrt(m.inFeatures);
    params[m.down] = Float32Array.from({ length: rank * m.inFeatures }, () => (2 * rng.uniform() - 1) * bound);
    params[m.up] = new Float32Array(m.outFeatures * rank);
  }
  return params;
}

export function loraShapes(modules: readonly LoraModule[], rank: number): Record<string, number[]> {
  return Object.fromEntries(modules.flatMap((m) => [[m.down, [rank, m.inFeatures]], [m.up, [m.outFeatures, rank]]]));
}

export const kohyaModuleName = (prefix: string, module: string): string => `${prefix}_${module.replace(/\./g, '_')}`;

export interface KohyaMetadata {
  /** e.g. "sd_v1", "sd_v2", "sdxl_base_v1-0" (kohya's ss_base_model_version). */
  baseModelVersion?: string;
  outputName: string;
  steps: number;
  learningRate: number;
  scheduler: string;
  optimizer: string;
  resolution?: string;
  seed: number;
  numTrainImages?: number;
  tagFrequency?: Record<string, Record<string, number>>;
  comment?: string;
}

/** Writes the trained branches as a kohya LoRA (fp32; alpha as a 0-d tensor, as sd-scripts saves it). */
export async function saveKohyaLora(path: string, modules: readonly LoraModule[], params: Readonly<Record<string, Float32Array>>, cfg: LoraConfig, meta: KohyaMetadata, prefix = 'lora_unet'): Promise<void> {
  const tensors = modules.flatMap((m) => {
    const k = kohyaModuleName(prefix, m.module);
    return [
      { name: `${k}.lora_down.weight`, dtype: 'F32' as const, shape: [cfg.rank, m.inFeatures], data: params[m.down] },
      { name: `${k}.lora_up.weight`, dtype: 'F32' as const, shape: [m.outFeatures, cfg.rank], data: params[m.up] },
      { name: `${k}.alpha`, dtype: 'F32' as const, shape: [] as number[], data: Float32Array.of(cfg.alpha) },
    ];
  });
  const metadata: Record<string, string> = {
    ss_network_module: 'networks.lora',
    ss_network_dim: String(cfg.rank),
    ss_network_alpha: String(cfg.alpha),
    ss_network_args: JSON.stringify({}),
    ss_base_model_version: meta.baseModelVersion ?? 'sd_v1',
    ss_v2: String(meta.baseModelVersion?.startsWith('sd_v2') ?? false),
    ss_output_name: meta.outputName,
    ss_steps: String(meta.steps),
    ss_max_train_steps: String(meta.steps),
    ss_learning_rate: String(meta.learningRate),
    ss_unet_lr: String(meta.learningRate),
    ss_text_encoder_lr: '0',
    ss_network_train_unet_only: 'True',
    ss_lr_scheduler: meta.scheduler,
    ss_optimizer: meta.optimizer,
    ss_resolution: meta.resolution ?? '',
    ss_seed: String(meta.seed),
    ss_num_train_images: String(meta.numTrainImages ?? 0),
    ss_tag_frequency: JSON.stringify(meta.tagFrequency ?? {}),
    ss_training_comment: meta.comment ?? 'trained by inkflow',
    ss_mixed_precision: 'no',
    ss_training_finished_at: String(Math.floor(Date.now() / 1000)),
  };
  await writeSafetensors(path, tensors, metadata);
}
