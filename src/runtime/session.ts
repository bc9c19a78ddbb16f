// IR graphs to onnxruntime sessions (opened by ortSession.ts, like user .onnx files) through a disk
// compile cache keyed by graph hash + weights fingerprint + ORT/CPU fingerprint, so the second load of
// a model skips emission, weight reading and graph optimisation: ORT opens the saved optimised model
// (and its external data) by path.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import type { Graph } from '../graph/graph.ts';
import { emitOnnx, paramBytes, type EmitOptions, type FuseChoice, type WeightStorage, EMITTER_VERSION, MAX_INLINE_BYTES } from '../graph/emitOnnx.ts';
import { graphHash } from '../graph/hash.ts';
import type { WeightStore } from '../graph/weights.ts';
import { entryWritten, persistStage, ramStage } from './compileStaging.ts';
import { nchwcBlockSize } from './nchwcBlock.ts';
import { liveSaver, removeDeadTemporaries, startDeferredSave } from './deferredSave.ts';
import { INT8_LOWERING_VERSION, type Int8Options, type Precision } from '../graph/int8Lowering.ts';
import { openSession, optimizationFingerprint, RuntimeError, sessionRunner, type OnnxRunner, type SessionOptions } from './ortSession.ts';

export { RuntimeError, type ExecutionProvider, type RuntimeTensor } from './ortSession.ts';
export { flushCompileCache } from './compileStaging.ts';

export interface CompileOptions extends SessionOptions {
  fuse?: FuseChoice;
  /**
   * 'f16' keeps large weights as float16 in the model and in memory (see EmitOptions.weightStorage);
   * 'auto' (the default) does so for weights the checkpoint stores as f16; 'f32' never.
   */
  weightStorage?: WeightStorage;
  /** 'int8' quantises Linears and Convs (graph/int8Lowering.ts); default 'fp32'. */
  precision?: Precision;
  int8?: Int8Options;
  /** One Cast per use of each f16-stored weight (EmitOptions.castPerUse): for training graphs. */
  castPerUse?: boolean;
  /** Compile cache folder; `false` disables caching (model emitted to memory). */
  cacheDir?: string | false;
  /** Told how long each start-up phase took (hash, emit, optimise, open), for bench/startup.ts. */
  onPhase?: (phase: CompilePhase, ms: number) => void;
}

export type CompilePhase = 'hash' | 'emit' | 'optimise' | 'open';

export interface CompiledModel extends OnnxRunner {
  readonly session: ort.InferenceSession;
  readonly key: string;
  /** True when the model came from the compile cache without emission. */
  readonly fromCache: boolean;
}

/** Calls `report(phase, ms since the previous phase)`; a no-op without a listener. */
function phaseTimer(report: CompileOptions['onPhase']): (p: CompilePhase) => void {
  if (!report) return () => {};
  let last = performance.now();
  return (p) => {
    const now = performance.now();
    report(p, now - last);
    last = now;
  };
}

export function defaultCacheDir(): string {
  return process.env.INKFLOW_CACHE ?? join(homedir(), '.cache', 'inkflow', 'compiled');
}

/** Compiles (or loads from cache) `graph` bound to `weights` and opens an ORT session. */
export async function compile(graph: Graph, weights: WeightStore, options: CompileOptions = {}): Promise<CompiledModel> {
  // int8 is lossy anyway: its sessions also flush denormals (SessionOptions.denormalsAsZero), fp32 stays exact.
  const opts = options.precision === 'int8' ? { denormalsAsZero: true, ...options } : options;
  const fuse = opts.fuse ?? 'all';
  const storage = opts.weightStorage ?? 'auto';
  const phase = phaseTimer(opts.onPhase);
  // Disabled ORT transformers change the saved optimised model: part of the key (absent when none, so
  // existing entries keep their keys). fp32 keys are unchanged from before int8 existed, too, and castPerUse joins only when set.
  const off = opts.disabledOptimizers?.length ? [...opts.disabledOptimizers].sort() : undefined;
  const quant = opts.precision === 'int8' ? { precision: 'int8', int8: opts.int8 ?? {}, int8Lowering: INT8_LOWERING_VERSION } : {};
  const castPerUse = opts.castPerUse ?? false;
  // Training graphs (castPerUse) stay plain: their frozen filters are also read by the backward, so few convs
  // could be blocked, and ORT converting the rest gives the forward exactly its inference numbers.
  const nchwcBlock = castPerUse ? undefined : await nchwcBlockSize(opts.provider);
  const emitQuant = { precision: opts.precision, int8: opts.int8, castPerUse, nchwcBlock };
  const key = graphHash(graph, JSON.stringify({ fuse, storage, ...(castPerUse ? { castPerUse } : {}), w: weights.fingerprint(), ort: optimizationFingerprint(opts.provider), emitter: EMITTER_VERSION, nchwcBlock, off, ...quant }));
  phase('hash');
  const cacheDir = opts.cacheDir === undefined ? defaultCacheDir() : opts.cacheDir;
  let fromCache = false;
  let session: ort.InferenceSession;
  if (cacheDir === false) {
    if (paramBytes(graph) > MAX_INLINE_BYTES) throw new RuntimeError('model is over 2 GB: enable the compile cache so weights go to external data');
    const bytes = emitOnnx(graph, weights, { fuse, weightStorage: storage, ...emitQuant });
    phase('emit');
    session = await openSession(bytes, opts, { keepDuplicateCasts: castPerUse });
    phase('optimise');
  } else {
    const dir = join(cacheDir, key.slice(0, 32));
    await entryWritten(dir);
    const optimizedPath = join(dir, OPTIMIZED_MODEL);
    const plainPath = join(dir, PLAIN_MODEL);
    if (existsSync(optimizedPath)) {
      fromCache = true;
      session = await openSession(optimizedPath, opts, { preOptimized: true });
      phase('open');
    } else if (existsSync(plainPath)) {
      fromCache = true;
      session = await openSession(plainPath, opts, { keepDuplicateCasts: castPerUse });
      phase('optimise');
    } else {
      session = await compileIntoCache(graph, weights, { fuse, weightStorage: storage, ...emitQuant }, dir, opts, phase);
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
 * Emits the model into a stage (a RAM folder when it fits, else a temporary folder beside the entry) and
 * opens the user's session from it. With f16 weight storage the stage becomes the entry (renamed, or
 * copied from RAM in the background). With f32 weights the entry is ORT's optimised model with pre-packed
 * weights, saved by a background process from the same stage (deferredSave.ts): saving it inline was half
 * of a first use. Either way the entry appears by rename, so a reader never sees half of it.
 */
async function compileIntoCache(graph: Graph, weights: WeightStore, emit: EmitOptions, dir: string, opts: CompileOptions, phase: (p: CompilePhase) => void): Promise<ort.InferenceSession> {
  mkdirSync(dirname(dir), { recursive: true }); // the saver's marker, temporaries and log go beside the entry
  removeDeadTemporaries(dirname(dir));
  const stage = ramStage(paramBytes(graph));
  const tmp = stage ?? `${dir}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { recursive: true });
  try {
    const report = { f16Params: 0 };
    const bytes = emitOnnx(graph, weights, { ...emit, report, externalData: { dir: tmp, file: PLAIN_DATA } });
    writeFileSync(join(tmp, PLAIN_MODEL), bytes);
    phase('emit');
    const keepPlain = report.f16Params > 0;
    const session = await openSession(join(tmp, PLAIN_MODEL), opts, keepPlain ? { keepDuplicateCasts: emit.castPerUse } : {});
    phase('optimise');
    if (!keepPlain) {
      // One saver per entry: while another process's saver works on it, this stage is not needed.
      if (liveSaver(dir) !== undefined) rmSync(tmp, { recursive: true, force: true });
      else startDeferredSave({ stage: tmp, plainModel: PLAIN_MODEL, entry: dir, optimizedModel: OPTIMIZED_MODEL, optimizedData: OPTIMIZED_DATA, provider: opts.provider ?? 'cpu', disabledOptimizers: opts.disabledOptimizers ?? [] });
      return session;
    }
    if (stage) {
      persistStage(stage, dir);
      return session;
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
