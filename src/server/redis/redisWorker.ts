// `inkflow worker`: pulls prompt jobs from BullMQ, runs them with its own executor (own node cache, own
// models in memory), streams events to the server over pub/sub, writes outputs into the shared data
// folder and returns the outcome as the job's result. A worker that dies mid-job leaves the job stalled;
// BullMQ hands it to another worker once (its stalled-job check), then fails it.
import { Worker } from 'bullmq';
import { openDataFolder } from '../dataFolder.ts';
import { crashedOutcome } from '../promptLifecycle.ts';
import { DEFAULT_LIMITS, workflowEnvOf } from '../startServer.ts';
import type { ServerLimits } from '../serverContext.ts';
import type { JobOutcome, WorkflowApi } from '../workflowApi.ts';
import { connectRedis } from './redisConnection.ts';
import { createThreadExecutor } from '../threadExecutor.ts';
import { encodeEvent, EVENTS_CHANNEL, FREE_CHANNEL, INTERRUPT_CHANNEL, QUEUE_NAME, type PromptJobData } from './channels.ts';

export interface WorkerOptions {
  redisUrl: string;
  dataDir: string;
  modelsDir?: string;
  workflow: WorkflowApi;
  limits?: Partial<ServerLimits>;
  device?: 'cpu' | 'cuda';
  /** A name for logs and for BullMQ's worker list. */
  name?: string;
  /** Called after each prompt with its outcome status (the CLI logs it). */
  onJobDone?: (promptId: string, status: JobOutcome['status']) => void;
}

export interface RunningWorker {
  /** Prompt ids this worker has finished (for logs and tests). */
  readonly done: string[];
  close(): Promise<void>;
}

export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
  const data = openDataFolder(opts.dataDir, opts.modelsDir);
  const env = workflowEnvOf(data, { ...DEFAULT_LIMITS, ...opts.limits }, opts.device);
  const executor = createThreadExecutor(env);
  const conn = await connectRedis(opts.redisUrl);
  const pub = conn.duplicate();
  const sub = conn.duplicate();
  const running = new Map<string, AbortController>();
  const done: string[] = [];

  sub.on('message', (channel: string, raw: string) => {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(raw);
    } catch {
      return;
    }
    if (channel === INTERRUPT_CHANNEL) {
      const target = msg.promptId;
      for (const [id, abort] of running) if (target === null || target === id) abort.abort();
    } else if (channel === FREE_CHANNEL) {
      executor.free({ unloadModels: msg.unloadModels === true, freeMemory: msg.freeMemory === true });
    }
  });
  await sub.subscribe(INTERRUPT_CHANNEL, FREE_CHANNEL);

  const worker = new Worker<PromptJobData, JobOutcome>(
    QUEUE_NAME,
    async (job) => {
      const { promptId } = job.data;
      const abort = new AbortController();
      running.set(promptId, abort);
      let outcome: JobOutcome;
      try {
        outcome = await executor.run(job.data, {
          signal: abort.signal,
          emit: (ev) => void pub.publish(EVENTS_CHANNEL, encodeEvent(promptId, ev)),
        });
      } catch (err) {
        outcome = crashedOutcome(promptId, err);
      } finally {
        running.delete(promptId);
      }
      done.push(promptId);
      opts.onJobDone?.(promptId, outcome.status);
      return outcome;
    },
    { connection: conn, concurrency: 1, name: opts.name },
  );
  await worker.waitUntilReady();
  return {
    done,
    async close() {
      await worker.close();
      await executor.close();
      await sub.quit().catch(() => {});
      await pub.quit().catch(() => {});
      await conn.quit().catch(() => {});
    },
  };
}
