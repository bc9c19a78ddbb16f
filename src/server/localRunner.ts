// Runs accepted prompts one at a time in this process, in queue order, straight from the SQLite store —
// so what runs is always what was durably accepted, and a restart simply continues with the store.
import type { PromptLifecycle } from './promptLifecycle.ts';
import { crashedOutcome } from './promptLifecycle.ts';
import type { JobOutcome, ApiPrompt } from './workflowApi.ts';
import type { ThreadExecutor } from './threadExecutor.ts';
import type { JobRunner } from './jobRunner.ts';
import type { QueuedPrompt } from './store.ts';

export function createLocalRunner(life: PromptLifecycle, executor: ThreadExecutor): JobRunner {
  let draining: Promise<void> | undefined;
  let current: { id: string; abort: AbortController } | undefined;
  let closed = false;

  async function runOne(p: QueuedPrompt, dispatchStart: ReturnType<PromptLifecycle['meter']['start']>): Promise<void> {
    const id = p.id;
    const abort = new AbortController();
    current = { id, abort };
    const relay = life.started(p);
    life.startedStatus();
    let outcome: JobOutcome;
    let posting: ReturnType<PromptLifecycle['meter']['start']>;
    try {
      const running = executor.run(
        { promptId: p.id, prompt: p.prompt as ApiPrompt, extraData: p.extraData, clientId: p.clientId },
        {
          signal: abort.signal,
          emit: (ev) => {
            const mark = life.meter.start();
            relay.forward(ev);
            life.meter.stop(id, mark, 'relay');
          },
          // The hand-over to the thread happens a few microtasks later (or once a new thread is up).
          posting: () => (posting = life.meter.start()),
          posted: () => life.meter.stop(id, posting, 'dispatch'),
        },
      );
      life.meter.stop(id, dispatchStart, 'dispatch');
      outcome = await running;
    } catch (err) {
      outcome = crashedOutcome(p.id, err);
    } finally {
      current = undefined;
    }
    // Stopped by a clean shutdown (SIGINT/SIGTERM): not a result. It runs again, from the start, next time.
    if (closed && outcome.status !== 'success') {
      life.store.requeue(p.id);
      return;
    }
    life.completed(p, outcome);
  }

  async function drain(): Promise<void> {
    for (;;) {
      if (closed) return;
      const t0 = life.meter.start();
      const next = life.store.nextPending();
      if (!next) return;
      if (!life.store.markRunning(next.id)) continue;
      await runOne(next, t0);
    }
  }

  function kick(): void {
    if (draining || closed) return;
    draining = drain().finally(() => {
      draining = undefined;
      // A prompt accepted while the last one finished must not wait for the next submission.
      if (!closed && life.store.nextPending()) kick();
    });
  }

  return {
    async start() {
      kick();
    },
    async submitted() {
      kick();
    },
    async removed() {},
    interrupt(promptId) {
      if (current && (promptId === undefined || promptId === current.id)) current.abort.abort();
    },
    free(opts) {
      executor.free(opts);
    },
    async close() {
      closed = true;
      current?.abort.abort();
      await draining;
      await executor.close();
    },
  };
}
