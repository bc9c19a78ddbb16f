// The one place inkflow opens onnxruntime sessions, shared by compiled IR graphs (session.ts) and
// user-supplied .onnx files (openOnnx.ts): the same options (intra-op threads = cores, one inter-op
// thread, full graph optimisation), the same errors (a missing CUDA provider says how to get one) and
// the same run() that checks feeds against what the model declares before anything reaches ORT.
import { createRequire } from 'node:module';
import { availableParallelism, cpus } from 'node:os';
import * as ort from 'onnxruntime-node';
import type { DType, Shape } from '../graph/graph.ts';
import { configureOrtEnvironment } from './ortEnvironment.ts';

export type ExecutionProvider = 'cpu' | 'cuda';

export class RuntimeError extends Error {
  override name = 'RuntimeError';
}

export interface RuntimeTensor {
  dtype: DType;
  shape: Shape;
  data: Float32Array | BigInt64Array | Uint16Array | Uint8Array;
}

export interface SessionOptions {
  provider?: ExecutionProvider;
  /** Intra-op threads; defaults to the machine's cores. */
  threads?: number;
  /**
   * ORT graph transformers to skip, by name (ORT's optimization.disable_specified_optimizers), e.g.
   * CommonSubexpressionElimination for training graphs: it merges the forward's and the backward's Casts of
   * each f16 frozen weight into one, so every weight's f32 copy stays alive from forward to backward.
   */
  disabledOptimizers?: readonly string[];
  /**
   * Flush denormal floats to zero in ORT's kernels (session.set_denormal_as_zero). A softmax over
   * peaked logits makes exp() underflow into denormals, which x86 computes far slower: SD1.5 64²
   * self-attention with logits std 16 (bench int8attention) ran 557–886 ms per call with them and 172 ms
   * with both threads flushing. ORT flushes on its pool threads and on the thread that created the
   * session, not on the node worker that may run session.run, whose share of each op then keeps its
   * denormals (measured 516 ms: one thread 0.15 s, the caller 0.52 s). Changes results wherever a
   * denormal arises, so only the lossy modes turn it on.
   */
  denormalsAsZero?: boolean;
}

/** An input as the model declares it. A string or negative dim is dynamic; no shape = unknown rank. */
export interface InputSpec {
  name: string;
  dtype: DType;
  shape?: readonly (number | string)[];
}

/** What every inkflow ONNX model offers its callers, whatever made it. */
export interface OnnxRunner {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** A bare Float32Array is an f32 tensor of the input's declared (fully fixed) shape. */
  run(feeds: Record<string, RuntimeTensor | Float32Array>): Promise<Record<string, RuntimeTensor>>;
  release(): Promise<void>;
}

const ORT_TYPE: Record<DType, ort.Tensor.Type> = { f32: 'float32', f16: 'float16', i64: 'int64', bool: 'bool' };
const FROM_ORT: Partial<Record<string, DType>> = { float32: 'f32', float16: 'f16', int64: 'i64', bool: 'bool' };

/** inkflow's dtype for an ORT tensor type, undefined for types inkflow does not handle (int32, uint8, …). */
export const dtypeFromOrt = (type: string): DType | undefined => FROM_ORT[type];

/** Where ORT should save the model after graph optimisation (weights to `dataFile` beside it). */
export interface OptimizedModelTarget {
  path: string;
  dataFile: string;
}

export interface OpenSessionExtras {
  /** Save the optimised graph, so a later open can skip optimisation (`preOptimized`). */
  saveOptimized?: OptimizedModelTarget;
  /** The model was saved by `saveOptimized` on this machine: open it without optimising again. */
  preOptimized?: boolean;
  /** Identical nodes stay separate (EmitOptions.castPerUse: one f16→f32 Cast per use on purpose). */
  keepDuplicateCasts?: boolean;
}

/**
 * What an optimised model depends on beyond the graph: ORT's optimisations are specific to its
 * version, the CPU (NCHWc layouts, vector widths) and the execution provider.
 */
export function optimizationFingerprint(provider: ExecutionProvider = 'cpu'): string {
  const cpu = cpus()[0]?.model ?? 'unknown-cpu';
  return `${ORT_VERSION}|${cpu}|${provider}`;
}

const ORT_VERSION = (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;

/** Opens an ORT session from a path (external data resolves beside it) or from model bytes. */
export async function openSession(model: string | Uint8Array, opts: SessionOptions = {}, extras: OpenSessionExtras = {}): Promise<ort.InferenceSession> {
  configureOrtEnvironment();
  const provider = opts.provider ?? 'cpu';
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [provider],
    intraOpNumThreads: opts.threads ?? availableParallelism(),
    interOpNumThreads: 1,
    graphOptimizationLevel: extras.preOptimized ? 'disabled' : 'all',
    // No memory pattern: with it, ORT's second run allocates the planned block afresh, and first
    // touches of fresh pages are costly on these VMs (65 ms per 134 MB vs 6 ms for touched memory).
    // SD VAE decode 512², fresh process, runs 1–3: 8.9 / 8.9 / 7.1 s (sys 2.0 / 1.9 / 0 s) with the
    // pattern, 8.1 / 7.0 / 7.6 s (sys 0.6 / 0 / 0 s) without; steady state is the same.
    enableMemPattern: false,
    // Warnings only: ORT warns on every save that NCHWc models are machine-specific (the cache key says so).
    logSeverityLevel: 3,
  };
  const extra: Record<string, Record<string, string>> = {};
  if (extras.saveOptimized) {
    options.optimizedModelFilePath = extras.saveOptimized.path;
    // Above 2 GB the optimised model must put its initializers in external data too. The weights as
    // the kernels pre-pack them (MLAS GEMM panels) go there as well: a later open maps them instead of
    // packing every MatMul/Gemm weight again, which was most of a warm start (bench startup, SD1.5 UNet at
    // half width: warm start 0.51–0.56 → 0.28–0.38 CPU s, peak RSS 410 → 165 MB; the entry grows by a third).
    extra.session = {
      optimized_model_external_initializers_file_name: extras.saveOptimized.dataFile,
      optimized_model_external_initializers_min_size_in_bytes: '1024',
      save_external_prepacked_constant_initializers: '1',
    };
  }
  // keepDuplicateCasts: ORT's CSE would merge the per-use Casts of f16 weights back into one (emitOnnx castPerUse).
  const off = [...(opts.disabledOptimizers ?? []), ...(extras.keepDuplicateCasts ? ['CommonSubexpressionElimination'] : [])];
  if (off.length) extra.optimization = { disable_specified_optimizers: [...new Set(off)].join(',') };
  if (opts.denormalsAsZero) extra.session = { ...extra.session, set_denormal_as_zero: '1' };
  if (Object.keys(extra).length) options.extra = extra;
  try {
    return typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
  } catch (err) {
    const msg = (err as Error).message;
    if (provider === 'cuda') {
      throw new RuntimeError(`CUDA execution provider unavailable (${msg}). Install onnxruntime-node with CUDA support (npm install without onnxruntime-node-install=skip, CUDA 12 + cuDNN present) or use --device cpu.`);
    }
    throw new RuntimeError(`onnxruntime could not load the model: ${msg}`);
  }
}

const fixed = (d: number | string): d is number => typeof d === 'number' && d >= 0;
const fits = (shape: readonly number[], spec: readonly (number | string)[]) =>
  shape.length === spec.length && spec.every((d, i) => !fixed(d) || d === shape[i]);

/** Wraps `session` so run() checks feeds against `inputs` and returns typed tensors. */
export function sessionRunner(session: ort.InferenceSession, inputs: readonly InputSpec[]): OnnxRunner {
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const info of inputs) {
        const { name, dtype, shape } = info;
        const expected = `${dtype} [${shape?.join(',') ?? '?'}]`;
        const f = feeds[name];
        if (!f) throw new RuntimeError(`missing input "${name}" (expected ${expected})`);
        let t: RuntimeTensor;
        if (f instanceof Float32Array) {
          if (!shape || !shape.every(fixed)) throw new RuntimeError(`input "${name}" has a dynamic shape [${shape?.join(',') ?? '?'}]: pass { dtype, shape, data }`);
          t = { dtype: 'f32', shape: shape as readonly number[], data: f };
        } else {
          t = f;
        }
        if (t.dtype !== dtype || (shape && !fits(t.shape, shape))) {
          throw new RuntimeError(`input "${name}" is ${t.dtype} [${t.shape.join(',')}], expected ${expected}`);
        }
        if (t.data.length !== t.shape.reduce((a, b) => a * b, 1)) throw new RuntimeError(`input "${name}" has ${t.data.length} values for shape [${t.shape.join(',')}]`);
        ortFeeds[name] = new ort.Tensor(ORT_TYPE[t.dtype], t.data as never, [...t.shape]);
      }
      const out = await session.run(ortFeeds);
      const result: Record<string, RuntimeTensor> = {};
      for (const [name, t] of Object.entries(out)) {
        const dtype = dtypeFromOrt(t.type);
        if (!dtype) throw new RuntimeError(`output "${name}" is ${t.type}; inkflow reads only float32, float16, int64 and bool`);
        result[name] = { dtype, shape: t.dims, data: t.data as RuntimeTensor['data'] };
      }
      return result;
    },
    release: () => session.release(),
  };
}
