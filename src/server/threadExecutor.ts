// An Executor that runs the workflow layer's executor in a worker thread (executorThread.ts), one job at
// a time, so the calling thread keeps serving HTTP/WebSocket traffic and Redis locks while nodes compute.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ExecutionEvent, Executor, ExecutorJob, JobOutcome, WorkflowEnv } from './workflowApi.ts';

export interface ThreadExecutor extends Executor {
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

export function createThreadExecutor(env: WorkflowEnv, workflowModule = WORKFLOW_MODULE): ThreadExecutor {
  const abortFlag = new SharedArrayBuffer(4);
  const flag = new Int32Array(abortFlag);
  const worker = new Worker(bootstrapSource(), { eval: true, workerData: { env, abortFlag, workflowModule } });
  worker.unref();
  let pending: { resolve(o: JobOutcome): void; reject(e: Error): void; emit(ev: ExecutionEvent): void } | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  let dead: Error | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  worker.on('message', (msg: { event?: ExecutionEvent; outcome?: JobOutcome; failed?: { name: string; message: string; stack?: string } }) => {
    if (!pending) return;
    if (msg.event) pending.emit(msg.event);
    else if (msg.outcome) pending.resolve(msg.outcome);
    else if (msg.failed) pending.reject(Object.assign(new Error(msg.failed.message), { name: msg.failed.name, stack: msg.failed.stack }));
  });
  const onDeath = (err: Error) => {
    dead = err;
    pending?.reject(err);
  };
  worker.on('error', onDeath);
  worker.on('exit', (code) => onDeath(new Error(`the executor thread exited (code ${code})`)));

  const runOne = async (job: ExecutorJob, hooks: { signal: AbortSignal; emit(ev: ExecutionEvent): void }): Promise<JobOutcome> => {
    await ready;
    if (dead) throw dead;
    Atomics.store(flag, 0, 0);
    const onAbort = () => {
      Atomics.store(flag, 0, 1);
      worker.postMessage({ abort: true });
    };
    if (hooks.signal.aborted) onAbort();
    hooks.signal.addEventListener('abort', onAbort);
    try {
      return await new Promise<JobOutcome>((resolve, reject) => {
        pending = { resolve, reject, emit: hooks.emit };
        worker.postMessage({ run: job });
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
      worker.postMessage({ free: opts });
    },
    async close() {
      await worker.terminate();
    },
  };
}
