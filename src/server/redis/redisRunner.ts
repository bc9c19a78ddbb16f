// Server side of scale-out: accepted prompts (already durable in SQLite) become BullMQ jobs; workers'
// progress comes back over pub/sub and is relayed to WebSocket clients; a job's completion (a BullMQ
// event, or — after a server restart — the job's stored state) writes the history, exactly once.
import { Queue, QueueEvents, type Job } from 'bullmq';
import type { JobRunner } from '../jobRunner.ts';
import type { PromptLifecycle } from '../promptLifecycle.ts';
import { crashedOutcome } from '../promptLifecycle.ts';
import { TERMINAL_EVENTS } from '../eventRelay.ts';
import type { QueuedPrompt } from '../store.ts';
import type { JobOutcome } from '../workflowApi.ts';
import { connectRedis } from './redisConnection.ts';
import { decodeEvent, EVENTS_CHANNEL, FREE_CHANNEL, INTERRUPT_CHANNEL, QUEUE_NAME, type PromptJobData } from './channels.ts';

const KEEP_FINISHED_JOBS = { age: 7 * 24 * 3600 };

function parseOutcome(v: unknown): JobOutcome | undefined {
  const o = typeof v === 'string' ? (JSON.parse(v) as unknown) : v;
  if (!o || typeof o !== 'object' || !('status' in o)) return undefined;
  return o as JobOutcome;
}

export async function createRedisRunner(life: PromptLifecycle, url: string): Promise<JobRunner> {
  const conn = await connectRedis(url);
  const sub = conn.duplicate();
  const queue = new Queue<PromptJobData>(QUEUE_NAME, { connection: conn });
  const queueEvents = new QueueEvents(QUEUE_NAME, { connection: conn.duplicate() });

  const finish = (id: string, outcome: JobOutcome) => {
    const p = life.store.get(id);
    if (!p || p.state === 'done') return;
    life.completed(p, outcome);
  };

  // A job's completion (BullMQ's stream) and its last progress messages (pub/sub) travel on different
  // connections, so the completion can overtake `executed`. The worker's own terminal event comes last on
  // the pub/sub channel: completion waits for it (briefly — pub/sub may drop it) before closing the prompt.
  const TERMINAL_WAIT_MS = 2000;
  const terminalSeen = new Set<string>();
  const waitingForTerminal = new Map<string, { outcome: JobOutcome; timer: NodeJS.Timeout }>();
  const completeWhenOrdered = (id: string, outcome: JobOutcome) => {
    if (terminalSeen.delete(id) || !life.relayOf(id)) return finish(id, outcome);
    const timer = setTimeout(() => {
      waitingForTerminal.delete(id);
      finish(id, outcome);
    }, TERMINAL_WAIT_MS);
    waitingForTerminal.set(id, { outcome, timer });
  };
  const terminalArrived = (id: string) => {
    const waiting = waitingForTerminal.get(id);
    if (!waiting) return void terminalSeen.add(id);
    clearTimeout(waiting.timer);
    waitingForTerminal.delete(id);
    finish(id, waiting.outcome);
  };

  sub.on('message', (channel: string, raw: string) => {
    if (channel !== EVENTS_CHANNEL) return;
    const msg = decodeEvent(raw);
    if (!msg) return;
    const p = life.store.get(msg.promptId);
    if (!p || p.state === 'done') return;
    let relay = life.relayOf(p.id);
    if (!relay) {
      life.store.markRunning(p.id);
      relay = life.started(p);
      life.broadcastStatus();
    }
    relay.forward(msg.ev);
    if (TERMINAL_EVENTS.has(msg.ev.type)) terminalArrived(p.id);
  });
  queueEvents.on('completed', ({ jobId, returnvalue }: { jobId: string; returnvalue: unknown }) => {
    const outcome = parseOutcome(returnvalue);
    completeWhenOrdered(jobId, outcome ?? crashedOutcome(jobId, new Error('worker returned no outcome')));
  });
  queueEvents.on('failed', ({ jobId, failedReason }: { jobId: string; failedReason: string }) => {
    finish(jobId, crashedOutcome(jobId, new Error(`worker failed: ${failedReason}`)));
  });

  const enqueue = async (p: Pick<QueuedPrompt, 'id' | 'number' | 'prompt' | 'extraData' | 'clientId'>) => {
    const data: PromptJobData = { promptId: p.id, prompt: p.prompt as PromptJobData['prompt'], extraData: p.extraData, clientId: p.clientId };
    // jobId = prompt id: adding a job that exists already is a no-op, so re-enqueueing after a crash is safe.
    await queue.add('prompt', data, { jobId: p.id, lifo: p.number < 0, attempts: 1, removeOnComplete: KEEP_FINISHED_JOBS, removeOnFail: KEEP_FINISHED_JOBS });
  };

  /** After a restart: results that arrived while the server was down, and prompts that never reached Redis. */
  const reconcile = async () => {
    for (const [, id] of [...life.store.running(), ...life.store.pending()]) {
      const job: Job<PromptJobData> | undefined = await queue.getJob(id);
      if (!job) {
        const p = life.store.get(id)!;
        await enqueue(p);
        continue;
      }
      const state = await job.getState();
      if (state === 'completed') finish(id, parseOutcome(job.returnvalue) ?? crashedOutcome(id, new Error('worker returned no outcome')));
      else if (state === 'failed') finish(id, crashedOutcome(id, new Error(`worker failed: ${job.failedReason}`)));
    }
  };

  return {
    async start() {
      await sub.subscribe(EVENTS_CHANNEL);
      await queueEvents.waitUntilReady();
      await reconcile();
    },
    async submitted(p) {
      await enqueue(p);
    },
    async removed(ids) {
      for (const id of ids) {
        const job = await queue.getJob(id);
        await job?.remove().catch(() => {}); // a worker took it already: it runs, its result finds no row and is dropped
      }
    },
    interrupt(promptId) {
      void conn.publish(INTERRUPT_CHANNEL, JSON.stringify({ promptId: promptId ?? null }));
    },
    free(opts) {
      void conn.publish(FREE_CHANNEL, JSON.stringify(opts));
    },
    async close() {
      for (const w of waitingForTerminal.values()) clearTimeout(w.timer);
      await queueEvents.close();
      await queue.close();
      await sub.quit().catch(() => {});
      await conn.quit().catch(() => {});
    },
  };
}
