// An Executor that runs the workflow layer's executor in a worker thread (executorThread.ts), one job at
// a time, so the calling thread keeps serving HTTP/WebSocket traffic and Redis locks while nodes compute.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ExecutionEvent, Executor, ExecutorJob, JobOutcome, WorkflowEnv } from './workflowApi.ts';

/** The executor's hooks, plus two around the hand-over of the job to the thread (for the overhead meter). */
export type ThreadExecutorHooks = Parameters<Executor['run']>[1] & { posting?(): void; posted?(): void };

export interface ThreadExecutor extends Executor {
  run(job: ExecutorJob, hooks: ThreadExecutorHooks): Promise<JobOutcome>;
  close(): Promise<void>;
}

const WORKFLOW_MODULE = new URL('./inkflowWorkflow.ts', import.meta.url).href;

const THREAD_MODULE = new URL('./executorThread.ts', import.meta.url).href;

/**
 * The thread's bootstrap: loader hooks of the parent (tsx, vitest) do not reach a worker thread, so it
 * registers tsx's TypeScript loader itself before importing the thread module.
 */
function bootstrapSource(): string {
  // tsx's ESM API (its "import" export, beside the CommonJS one require.resolve finds).
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  return `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(THREAD_MODULE)}); });`;
}

interface Pending {
  resolve(o: JobOutcome): void;
  reject(e: Error): void;
  emit(ev: ExecutionEvent): void;
}

type ThreadMessage = { ready?: true; event?: ExecutionEvent; outcome?: JobOutcome; failed?: { name: string; message: string; stack?: string } };

/**
 * One executor thread. If it dies (an uncaught error, out of memory), the job it was running fails with
 * that reason and the next job gets a fresh thread: the queue goes on.
 */
export function createThreadExecutor(env: WorkflowEnv, workflowModule = WORKFLOW_MODULE): ThreadExecutor {
  const abortFlag = new SharedArrayBuffer(4);
  const flag = new Int32Array(abortFlag);
  let pending: Pending | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;

  interface Thread {
    worker: Worker;
    ready: Promise<void>;
    dead?: Error;
  }
  const spawn = (): Thread => {
    const worker = new Worker(bootstrapSource(), { eval: true, workerData: { env, abortFlag, workflowModule } });
    worker.unref();
    const thread: Thread = { worker, ready: Promise.resolve() };
    thread.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (msg: ThreadMessage) => {
        if (msg.ready) return resolve();
        if (!pending) return;
        if (msg.event) pending.emit(msg.event);
        else if (msg.outcome) pending.resolve(msg.outcome);
        else if (msg.failed) pending.reject(Object.assign(new Error(msg.failed.message), { name: msg.failed.name, stack: msg.failed.stack }));
      });
      const onDeath = (err: Error) => {
        thread.dead ??= err;
        reject(err);
        pending?.reject(err);
      };
      worker.on('error', onDeath);
      worker.on('exit', (code) => onDeath(new Error(`the executor thread stopped (exit code ${code})`)));
    });
    thread.ready.catch(() => {}); // reported through the job that waits on it
    return thread;
  };
  let thread = spawn();

  const runOne = async (job: ExecutorJob, hooks: ThreadExecutorHooks): Promise<JobOutcome> => {
    if (thread.dead && !closed) thread = spawn();
    const t = thread;
    await t.ready;
    Atomics.store(flag, 0, 0);
    const onAbort = () => {
      Atomics.store(flag, 0, 1);
      t.worker.postMessage({ abort: true });
    };
    if (hooks.signal.aborted) onAbort();
    hooks.signal.addEventListener('abort', onAbort);
    try {
      return await new Promise<JobOutcome>((resolve, reject) => {
        pending = { resolve, reject, emit: hooks.emit };
        if (t.dead) return reject(t.dead);
        hooks.posting?.();
        t.worker.postMessage({ run: job });
        hooks.posted?.();
      });
    } finally {
      pending = undefined;
      hooks.signal.removeEventListener('abort', onAbort);
    }
  };

  return {
    run(job, hooks) {
      const next = queue.then(() => runOne(job, hooks));
      queue = next.catch(() => undefined);
      return next;
    },
    free(opts) {
      if (!thread.dead) thread.worker.postMessage({ free: opts });
    },
    async close() {
      closed = true;
      if (!thread.dead) {
        // Let a model compiled in the thread finish landing in the compile cache (bounded: a stuck disk
        // must not hold a shutdown forever).
        const flushed = new Promise<void>((resolve) => {
          const onMessage = (m: { flushed?: true }) => m.flushed && (thread.worker.off('message', onMessage), resolve());
          thread.worker.on('message', onMessage);
          thread.worker.once('exit', () => resolve());
        });
        thread.worker.postMessage({ flush: true });
        await Promise.race([flushed, new Promise((r) => setTimeout(r, 120_000).unref())]);
      }
      await thread.worker.terminate();
    },
  };
}
