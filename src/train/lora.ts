// LoRA on the graph IR: a rewrite that adds a low-rank branch beside every Linear whose weight matches
// the targets (attention projections by default, as kohya's networks.lora does for the UNet):
//   y = x·Wᵀ + (alpha/rank) · (x·downᵀ)·upᵀ,  down [rank, in], up [out, rank]
// and, as LoCon (kohya's conv_dim / conv_alpha), beside every matching Conv:
//   y = conv(x, W) + (alpha/rank) · conv1×1(conv(x, down), up),  down [rank, in, kh, kw] with W's strides and
//   pads, up [out, rank, 1, 1]; 1×1 convs take the Linear rank and alpha, larger kernels the conv ones (kohya).
// The base weights stay frozen parameters (initializers); only down/up are trained. The trained
// branches save as a kohya-format safetensors (lora_unet_<module with . → _>.lora_down/lora_up/alpha for
// the UNet, lora_te_… for a text encoder whose parameters are under `text_encoder.`, ss_* metadata) that
// weights/lora.ts merges back, as ComfyUI and A1111 do.
import { type Graph, type Node, type Tensor, Graph as GraphClass, GraphError } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import { writeSafetensors } from '../weights/safetensors.ts';
import type { TrainRng } from './trainRng.ts';

/** kohya's default UNet LoRA targets: the q/k/v/out projections of every attention. */
export const ATTENTION_PROJECTIONS = /(?:^|\.)attn\d\.(?:to_q|to_k|to_v|to_out\.0)\.weight$/;

/** kohya's text-encoder targets (CLIPAttention and CLIPMLP): q/k/v/out projections and fc1/fc2. */
export const TEXT_ENCODER_TARGETS = /(?:^|\.)encoder\.layers\.\d+\.(?:self_attn\.(?:q_proj|k_proj|v_proj|out_proj)|mlp\.fc[12])\.weight$/;

/** LoCon targets: the convolutions of ResnetBlock2D, Downsample2D and Upsample2D (kohya's conv_dim modules). */
export const RESNET_CONVS = /(?:^|\.)(?:resnets\.\d+\.(?:conv1|conv2|conv_shortcut)|downsamplers\.0\.conv|upsamplers\.0\.conv)\.weight$/;

export interface LoraConfig {
  rank: number;
  alpha: number;
  /** Which weight parameters (of Linears: MatMul by a transposed 2-D parameter) get a branch. */
  targets?: RegExp;
  /** Which Conv weights get a LoCon branch (none when absent). */
  convTargets?: RegExp;
  /** Rank and alpha of branches on convs with kernels larger than 1×1 (default: rank and alpha). */
  convRank?: number;
  convAlpha?: number;
}

export interface LoraModule {
  /** The base module name, e.g. `down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`. */
  module: string;
  down: string;
  up: string;
  inFeatures: number;
  outFeatures: number;
  rank: number;
  alpha: number;
  /** [kh, kw] for a conv module (LoCon); absent for a Linear. */
  kernel?: [number, number];
}

export const loraParamNames = (module: string) => ({ down: `${module}.lora_down.weight`, up: `${module}.lora_up.weight` });

/** A copy of `forward` with LoRA branches on the matching Linears (and Convs); the new parameters are listed in `modules`. */
export function addLoraBranches(forward: Graph, cfg: LoraConfig): { graph: Graph; modules: LoraModule[] } {
  for (const [what, v] of [['rank', cfg.rank], ['conv rank', cfg.convRank ?? cfg.rank]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new GraphError(`LoRA ${what} must be a positive integer, got ${v}`);
  }
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
    const x = map.get(n.inputs[0])!;
    const weight = linearWeight(forward, producer, n);
    const conv = cfg.convTargets ? convWeight(forward, n) : undefined;
    if (weight && targets.test(weight.name)) {
      const module = weight.name.slice(0, -'.weight'.length);
      const [outF, inF] = weight.shape;
      const names = loraParamNames(module);
      modules.set(module, { module, ...names, inFeatures: inF, outFeatures: outF, rank: cfg.rank, alpha: cfg.alpha });
      const down = out.param(names.down, [cfg.rank, inF]);
      const up = out.param(names.up, [outF, cfg.rank]);
      const branch = op.matmul(op.matmul(x, op.transpose(down, [1, 0])), op.transpose(up, [1, 0]));
      y = op.add(y, op.mul(branch, cfg.alpha / cfg.rank));
    } else if (conv && cfg.convTargets!.test(conv.name)) {
      const module = conv.name.slice(0, -'.weight'.length);
      const [outC, inC, kh, kw] = conv.shape;
      const pointwise = kh === 1 && kw === 1;
      const rank = pointwise ? cfg.rank : cfg.convRank ?? cfg.rank;
      const alpha = pointwise ? cfg.alpha : cfg.convAlpha ?? cfg.alpha;
      const names = loraParamNames(module);
      modules.set(module, { module, ...names, inFeatures: inC, outFeatures: outC, rank, alpha, kernel: [kh, kw] });
      const down = out.param(names.down, [rank, inC, kh, kw]);
      const up = out.param(names.up, [outC, rank, 1, 1]);
      const a = n.attrs as { strides: [number, number]; pads: [number, number, number, number]; dilations: [number, number] };
      const branch = op.conv(op.conv(x, down, undefined, { strides: a.strides, pads: a.pads, dilations: a.dilations }), up, undefined);
      y = op.add(y, op.mul(branch, alpha / rank));
    }
    map.set(n.outputs[0], y);
    n.outputs.slice(1).forEach((id, i) => map.set(id, results[i + 1]));
  }
  for (const o of forward.outputs) out.output(o.name, map.get(o.id)!);
  if (modules.size === 0) throw new GraphError(`LoRA: no Linear weight matches ${targets}${cfg.convTargets ? ` and no Conv weight matches ${cfg.convTargets}` : ''}`);
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

/** The 4-D weight parameter of an ungrouped Conv node, if `n` is one. */
function convWeight(g: Graph, n: Node): { name: string; shape: readonly number[] } | undefined {
  if (n.op !== 'Conv' || (n.attrs.group as number) !== 1) return undefined;
  const w = g.values[n.inputs[1]];
  return w.kind === 'param' && w.shape.length === 4 ? { name: w.name!, shape: w.shape } : undefined;
}

/**
 * kohya's initialisation: down ~ U(−1/√in, 1/√in) (kaiming_uniform with a = √5), up = 0, so the
 * untrained LoRA leaves the model unchanged.
 */
export function initLoraParams(modules: readonly LoraModule[], rng: TrainRng): Record<string, Float32Array> {
  const params: Record<string, Float32Array> = {};
  for (const m of modules) {
    const fanIn = m.inFeatures * (m.kernel ? m.kernel[0] * m.kernel[1] : 1);
    const bound = 1 / Math.sqrt(fanIn);
    params[m.down] = Float32Array.from({ length: m.rank * fanIn }, () => (2 * rng.uniform() - 1) * bound);
    params[m.up] = new Float32Array(m.outFeatures * m.rank);
  }
  return params;
}

function moduleShapes(m: LoraModule): { down: number[]; up: number[] } {
  return m.kernel
    ? { down: [m.rank, m.inFeatures, m.kernel[0], m.kernel[1]], up: [m.outFeatures, m.rank, 1, 1] }
    : { down: [m.rank, m.inFeatures], up: [m.outFeatures, m.rank] };
}

export function loraShapes(modules: readonly LoraModule[]): Record<string, number[]> {
  return Object.fromEntries(modules.flatMap((m) => {
    const s = moduleShapes(m);
    return [[m.down, s.down], [m.up, s.up]];
  }));
}

/**
 * The kohya key of a module: parameters under `text_encoder.` are the text encoder's (lora_te_…), those
 * under `unet.` or without a component prefix the UNet's (lora_unet_…, or `prefix`).
 */
export function kohyaKeyOf(module: string, prefix = 'lora_unet'): string {
  if (module.startsWith('text_encoder.')) return kohyaModuleName('lora_te', module.slice('text_encoder.'.length));
  if (module.startsWith('unet.')) return kohyaModuleName('lora_unet', module.slice('unet.'.length));
  return kohyaModuleName(prefix, module);
}

export const kohyaModuleName = (prefix: string, module: string): string => `${prefix}_${module.replace(/\./g, '_')}`;

export interface KohyaMetadata {
  /** e.g. "sd_v1", "sd_v2", "sdxl_base_v1-0" (kohya's ss_base_model_version). */
  baseModelVersion?: string;
  outputName: string;
  steps: number;
  learningRate: number;
  /** When the text encoder is trained too (default: learningRate). */
  textEncoderLearningRate?: number;
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
    const k = kohyaKeyOf(m.module, prefix);
    const s = moduleShapes(m);
    return [
      { name: `${k}.lora_down.weight`, dtype: 'F32' as const, shape: s.down, data: params[m.down] },
      { name: `${k}.lora_up.weight`, dtype: 'F32' as const, shape: s.up, data: params[m.up] },
      { name: `${k}.alpha`, dtype: 'F32' as const, shape: [] as number[], data: Float32Array.of(m.alpha) },
    ];
  });
  const trainsText = modules.some((m) => m.module.startsWith('text_encoder.'));
  const locon = modules.some((m) => m.kernel && (m.kernel[0] > 1 || m.kernel[1] > 1));
  const networkArgs = locon ? { conv_dim: String(cfg.convRank ?? cfg.rank), conv_alpha: String(cfg.convAlpha ?? cfg.alpha) } : {};
  const metadata: Record<string, string> = {
    ss_network_module: 'networks.lora',
    ss_network_dim: String(cfg.rank),
    ss_network_alpha: String(cfg.alpha),
    ss_network_args: JSON.stringify(networkArgs),
    ss_base_model_version: meta.baseModelVersion ?? 'sd_v1',
    ss_v2: String(meta.baseModelVersion?.startsWith('sd_v2') ?? false),
    ss_output_name: meta.outputName,
    ss_steps: String(meta.steps),
    ss_max_train_steps: String(meta.steps),
    ss_learning_rate: String(meta.learningRate),
    ss_unet_lr: String(meta.learningRate),
    ss_text_encoder_lr: String(trainsText ? meta.textEncoderLearningRate ?? meta.learningRate : 0),
    ss_network_train_unet_only: trainsText ? 'False' : 'True',
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
