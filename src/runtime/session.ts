// IR graphs to onnxruntime sessions (opened by ortSession.ts, like user .onnx files) through a disk
// compile cache keyed by graph hash + weights fingerprint, so the second load of a model skips
// emission and weight reading entirely and ORT loads the model (and its external data) by path.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import type { Graph } from '../graph/graph.ts';
import { emitOnnx, paramBytes, type FuseChoice, MAX_INLINE_BYTES } from '../graph/emitOnnx.ts';
import { graphHash } from '../graph/hash.ts';
import type { WeightStore } from '../graph/weights.ts';
import { openSession, RuntimeError, sessionRunner, type OnnxRunner, type SessionOptions } from './ortSession.ts';

export { RuntimeError, type ExecutionProvider, type RuntimeTensor } from './ortSession.ts';

export interface CompileOptions extends SessionOptions {
  fuse?: FuseChoice;
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
  const key = graphHash(graph, JSON.stringify({ fuse, w: weights.fingerprint() }));
  const cacheDir = opts.cacheDir === undefined ? defaultCacheDir() : opts.cacheDir;
  let fromCache = false;
  let session: ort.InferenceSession;
  if (cacheDir === false) {
    if (paramBytes(graph) > MAX_INLINE_BYTES) throw new RuntimeError('model is over 2 GB: enable the compile cache so weights go to external data');
    session = await openSession(emitOnnx(graph, weights, { fuse }), opts);
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
    session = await openSession(modelPath, opts);
  }
  const inputs = graph.inputs.map((id) => ({ name: graph.values[id].name!, dtype: graph.values[id].dtype, shape: graph.values[id].shape }));
  return { ...sessionRunner(session, inputs), session, key, fromCache };
}
