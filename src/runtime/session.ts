// IR graphs to onnxruntime sessions (opened by ortSession.ts, like user .onnx files) through a disk
// compile cache keyed by graph hash + weights fingerprint + ORT/CPU fingerprint, so the second load of
// a model skips emission, weight reading and graph optimisation: ORT opens the saved optimised model
// (and its external data) by path.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import type { Graph } from '../graph/graph.ts';
import { emitOnnx, paramBytes, type EmitOptions, type FuseChoice, type WeightStorage, EMITTER_VERSION, MAX_INLINE_BYTES } from '../graph/emitOnnx.ts';
import { graphHash } from '../graph/hash.ts';
import type { WeightStore } from '../graph/weights.ts';
import { openSession, optimizationFingerprint, RuntimeError, sessionRunner, type OnnxRunner, type SessionOptions } from './ortSession.ts';

export { RuntimeError, type ExecutionProvider, type RuntimeTensor } from './ortSession.ts';

export interface CompileOptions extends SessionOptions {
  fuse?: FuseChoice;
  /**
   * 'f16' keeps large weights as float16 in the model and in memory (see EmitOptions.weightStorage);
   * 'auto' (the default) does so for weights the checkpoint stores as f16; 'f32' never.
   */
  weightStorage?: WeightStorage;
  /** One Cast per use of each f16-stored weight (EmitOptions.castPerUse): for training graphs. */
  castPerUse?: boolean;
  /** Compile cache folder; `false` disables caching (model emitted to memory). */
  cacheDir?: string | false;
}

export interface CompiledModel extends OnnxRunner {
  readonly session: ort.InferenceSession;
  readonly key: string;
  /** True when the model came from the compile cache without emission. */
  readonly fromCache: boolean;
}

export function defaultCacheDir(): string {
  return process.env.INKFLOW_CACHE ?? join(homedir(), '.cache', 'inkflow', 'compiled');
}

/** Compiles (or loads from cache) `graph` bound to `weights` and opens an ORT session. */
export async function compile(graph: Graph, weights: WeightStore, opts: CompileOptions = {}): Promise<CompiledModel> {
  const fuse = opts.fuse ?? 'all';
  const storage = opts.weightStorage ?? 'auto';
  const castPerUse = opts.castPerUse ?? false;
  // castPerUse joins the key only when set, so keys of existing cache entries stay as they were.
  const key = graphHash(graph, JSON.stringify({ fuse, storage, ...(castPerUse ? { castPerUse } : {}), w: weights.fingerprint(), ort: optimizationFingerprint(opts.provider), emitter: EMITTER_VERSION }));
  const cacheDir = opts.cacheDir === undefined ? defaultCacheDir() : opts.cacheDir;
  let fromCache = false;
  let session: ort.InferenceSession;
  if (cacheDir === false) {
    if (paramBytes(graph) > MAX_INLINE_BYTES) throw new RuntimeError('model is over 2 GB: enable the compile cache so weights go to external data');
    session = await openSession(emitOnnx(graph, weights, { fuse, weightStorage: storage, castPerUse }), opts, { keepDuplicateCasts: castPerUse });
  } else {
    const dir = join(cacheDir, key.slice(0, 32));
    const optimizedPath = join(dir, OPTIMIZED_MODEL);
    const plainPath = join(dir, PLAIN_MODEL);
    if (existsSync(optimizedPath)) {
      fromCache = true;
      session = await openSession(optimizedPath, opts, { preOptimized: true });
    } else if (existsSync(plainPath)) {
      fromCache = true;
      session = await openSession(plainPath, opts, { keepDuplicateCasts: castPerUse });
    } else {
      session = await compileIntoCache(graph, weights, { fuse, weightStorage: storage, castPerUse }, dir, opts);
    }
  }
  const inputs = graph.inputs.map((id) => ({ name: graph.values[id].name!, dtype: graph.values[id].dtype, shape: graph.values[id].shape }));
  return { ...sessionRunner(session, inputs), session, key, fromCache };
}

/**
 * Cache entry layout: normally the graph as ORT optimised it (NCHWc layouts, fusions) and its weights.
 * With f16 weight storage the entry keeps the plain model instead: re-opening ORT's saved optimisation
 * of it keeps every cast f32 weight alive at once (measured: 6.8 GB instead of 3.1 GB for SD1.5), so
 * those entries pay the optimisation time again on each load.
 */
const OPTIMIZED_MODEL = 'optimized.onnx';
const OPTIMIZED_DATA = 'optimized.bin';
const PLAIN_MODEL = 'model.onnx';
const PLAIN_DATA = 'weights.bin';

/**
 * Emits the model into a temporary folder (and, for f32 weights, lets ORT optimise it and save the
 * result, keeping only the optimised files), then renames the folder into place: a crash never leaves
 * a half-written entry, and a later load opens the optimised model in well under a second instead of
 * re-optimising thousands of nodes.
 */
async function compileIntoCache(graph: Graph, weights: WeightStore, emit: EmitOptions, dir: string, opts: CompileOptions): Promise<ort.InferenceSession> {
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { recursive: true });
  try {
    const report = { f16Params: 0 };
    const bytes = emitOnnx(graph, weights, { ...emit, report, externalData: { dir: tmp, file: PLAIN_DATA } });
    writeFileSync(join(tmp, PLAIN_MODEL), bytes);
    const keepPlain = report.f16Params > 0;
    const session = keepPlain
      ? await openSession(join(tmp, PLAIN_MODEL), opts, { keepDuplicateCasts: emit.castPerUse })
      : await openSession(join(tmp, PLAIN_MODEL), opts, { saveOptimized: { path: join(tmp, OPTIMIZED_MODEL), dataFile: OPTIMIZED_DATA } });
    if (!keepPlain) {
      // The open session keeps what it loaded; the unoptimised files are no longer needed.
      rmSync(join(tmp, PLAIN_MODEL));
      rmSync(join(tmp, PLAIN_DATA));
    }
    try {
      renameSync(tmp, dir);
    } catch (err) {
      if (!existsSync(dir)) throw err; // another process won the race: its entry is as good
      rmSync(tmp, { recursive: true, force: true });
    }
    return session;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
