// The executor's own thread. Node work (image maths in JS, model runs) can hold the CPU for seconds
// without yielding; on the server's thread that would freeze HTTP, WebSocket pings and /interrupt, and on
// a Redis worker it would stop BullMQ from renewing its job lock (the job would be handed to a second
// worker). Here it blocks only this thread. Messages: in {run, job} | {free, opts} | {abort}; out {event}
// | {outcome} | {failed}; {flush} → {flushed} once background compile-cache writes are done. Interrupts also arrive through a shared flag, so a node that never yields
// still sees `signal.aborted` become true at its next check.
import { parentPort, workerData } from 'node:worker_threads';
import type { Executor, ExecutorJob, WorkflowEnv } from './workflowApi.ts';
import { flushCompileCache } from '../runtime/session.ts';

interface ThreadData {
  env: WorkflowEnv;
  /** One Int32 slot: 1 while the current job is interrupted. */
  abortFlag: SharedArrayBuffer;
  /** Module exporting `inkflowWorkflow` (a WorkflowApi). */
  workflowModule: string;
}

type Inbound = { run: ExecutorJob } | { free: { unloadModels?: boolean; freeMemory?: boolean } } | { abort: true } | { flush: true };

/** An AbortSignal whose `aborted` also reads the shared flag, so it flips even while this thread never yields. */
function sharedSignal(flag: Int32Array): { signal: AbortSignal; controller: AbortController } {
  const controller = new AbortController();
  const target = controller.signal;
  const sync = () => {
    if (!target.aborted && Atomics.load(flag, 0) === 1) controller.abort(new Error('interrupted'));
  };
  const signal = new Proxy(target, {
    get(t, prop) {
      if (prop === 'aborted' || prop === 'reason' || prop === 'throwIfAborted') sync();
      const v = Reflect.get(t, prop, t);
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
  return { signal, controller };
}

async function main(): Promise<void> {
  const data = workerData as ThreadData;
  const flag = new Int32Array(data.abortFlag);
  const { inkflowWorkflow } = (await import(data.workflowModule)) as { inkflowWorkflow: { createExecutor(env: WorkflowEnv): Executor } };
  const executor = inkflowWorkflow.createExecutor(data.env);
  let current: AbortController | undefined;
  parentPort!.on('message', async (msg: Inbound) => {
    if ('abort' in msg) {
      current?.abort(new Error('interrupted'));
      return;
    }
    if ('free' in msg) {
      executor.free(msg.free);
      return;
    }
    if ('flush' in msg) {
      // Before the thread is stopped: models compiled here may still be copying into the compile cache.
      await flushCompileCache();
      parentPort!.postMessage({ flushed: true });
      return;
    }
    const { signal, controller } = sharedSignal(flag);
    current = controller;
    try {
      const outcome = await executor.run(msg.run, {
        signal,
        emit(ev) {
          if (ev.type === 'preview') {
            const bytes = new Uint8Array(ev.bytes); // a copy this thread can give away
            parentPort!.postMessage({ event: { type: 'preview', format: ev.format, bytes } }, [bytes.buffer]);
          } else parentPort!.postMessage({ event: ev });
        },
      });
      parentPort!.postMessage({ outcome });
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      parentPort!.postMessage({ failed: { name: err.name, message: err.message, stack: err.stack } });
    } finally {
      current = undefined;
    }
  });
  parentPort!.postMessage({ ready: true });
}

void main();
