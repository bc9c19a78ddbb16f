// onnxruntime-node sessions for IR graphs: threads = cores, execution provider choice, and a disk
// compile cache keyed by graph hash + weights fingerprint, so the second load of a model skips
// emission and weight reading entirely and ORT loads the model (and its external data) by path.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Graph, Shape, DType } from '../graph/graph.ts';
import { emitOnnx, paramBytes, type FuseChoice, MAX_INLINE_BYTES } from '../graph/emitOnnx.ts';
import { graphHash } from '../graph/hash.ts';
import type { WeightStore } from '../graph/weights.ts';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface CompileOptions {
  provider?: ExecutionProvider;
  /** Intra-op threads; defaults to the machine's cores. */
  threads?: number;
  fuse?: FuseChoice;
  /** Compile cache folder; `false` disables caching (model emitted to memory). */
  cacheDir?: string | false;
}

export class RuntimeError extends Error {
  override name = 'RuntimeError';
}

export interface RuntimeTensor {
  dtype: DType;
  shape: Shape;
  data: Float32Array | BigInt64Array | Uint16Array | Uint8Array;
}

export interface CompiledModel {
  readonly session: ort.InferenceSession;
  readonly key: string;
  /** True when the model came from the compile cache without emission. */
  readonly fromCache: boolean;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, RuntimeTensor | Float32Array>): Promise<Record<string, RuntimeTensor>>;
  release(): Promise<void>;
}

export function defaultCacheDir(): string {
  return process.env.INKFLOW_CACHE ?? join(homedir(), '.cache', 'inkflow', 'compiled');
}

/** Compiles (or loads from cache) `graph` bound to `weights` and opens an ORT session. */
export async function compile(graph: Graph, weights: WeightStore, opts: CompileOptions = {}): Promise<CompiledModel> {
  const provider = opts.provider ?? 'cpu';
  const fuse = opts.fuse ?? 'all';
  const key = graphHash(graph, JSON.stringify({ fuse, w: weights.fingerprint() }));
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: [provider],
    intraOpNumThreads: opts.threads ?? availableParallelism(),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  };
  const cacheDir = opts.cacheDir === undefined ? defaultCacheDir() : opts.cacheDir;
  let fromCache = false;
  let session: ort.InferenceSession;
  if (cacheDir === false) {
    if (paramBytes(graph) > MAX_INLINE_BYTES) throw new RuntimeError('model is over 2 GB: enable the compile cache so weights go to external data');
    session = await createSession(emitOnnx(graph, weights, { fuse }), sessionOptions, provider);
  } else {
    const dir = join(cacheDir, key.slice(0, 32));
    const modelPath = join(dir, 'model.onnx');
    if (existsSync(modelPath)) {
      fromCache = true;
    } else {
      // Emit into a temporary folder and rename, so a crash never leaves a half-written cache entry.
      const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
      mkdirSync(tmp, { recursive: true });
      try {
        const bytes = emitOnnx(graph, weights, { fuse, externalData: { dir: tmp, file: 'weights.bin' } });
        writeFileSync(join(tmp, 'model.onnx'), bytes);
        try {
          renameSync(tmp, dir);
        } catch (err) {
          if (!existsSync(modelPath)) throw err; // another process won the race: use its entry
          rmSync(tmp, { recursive: true, force: true });
        }
      } catch (err) {
        rmSync(tmp, { recursive: true, force: true });
        throw err;
      }
    }
    session = await createSession(modelPath, sessionOptions, provider);
  }
  return wrap(session, key, fromCache, graph);
}

async function createSession(model: string | Uint8Array, options: ort.InferenceSession.SessionOptions, provider: ExecutionProvider): Promise<ort.InferenceSession> {
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

const ORT_TYPE: Record<DType, ort.Tensor.Type> = { f32: 'float32', f16: 'float16', i64: 'int64', bool: 'bool' };
const FROM_ORT: Record<string, DType> = { float32: 'f32', float16: 'f16', int64: 'i64', bool: 'bool' };

function wrap(session: ort.InferenceSession, key: string, fromCache: boolean, graph: Graph): CompiledModel {
  const expected = new Map(graph.inputs.map((id) => [graph.values[id].name!, graph.values[id]]));
  return {
    session,
    key,
    fromCache,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, info] of expected) {
        const f = feeds[name];
        if (!f) throw new RuntimeError(`missing input "${name}" (expected ${info.dtype} [${info.shape.join(',')}])`);
        const t: RuntimeTensor = f instanceof Float32Array ? { dtype: 'f32', shape: info.shape, data: f } : f;
        if (t.dtype !== info.dtype || t.shape.join(',') !== info.shape.join(',')) {
          throw new RuntimeError(`input "${name}" is ${t.dtype} [${t.shape.join(',')}], expected ${info.dtype} [${info.shape.join(',')}]`);
        }
        if (t.data.length !== info.shape.reduce((a, b) => a * b, 1)) throw new RuntimeError(`input "${name}" has ${t.data.length} values for shape [${info.shape.join(',')}]`);
        ortFeeds[name] = new ort.Tensor(ORT_TYPE[t.dtype], t.data as never, [...t.shape]);
      }
      const out = await session.run(ortFeeds);
      const result: Record<string, RuntimeTensor> = {};
      for (const [name, t] of Object.entries(out)) {
        result[name] = { dtype: FROM_ORT[t.type] ?? 'f32', shape: t.dims, data: t.data as RuntimeTensor['data'] };
      }
      return result;
    },
    release: () => session.release(),
  };
}
