// The two ways prompts get run — in this process (localRunner) or by `inkflow worker` processes over
// Redis/BullMQ (redisRunner) — behind one small interface the routes talk to.
import type { QueuedPrompt } from './store.ts';

export interface JobRunner {
  /** Begins processing (and, after a restart, picks up what the store still holds). */
  start(): Promise<void>;
  /** A prompt was stored as pending. */
  submitted(p: QueuedPrompt): Promise<void>;
  /** Pending prompts were deleted from the store. */
  removed(ids: readonly string[]): Promise<void>;
  /** Stops the running prompt (only that one when promptId is given). */
  interrupt(promptId?: string): void;
  free(opts: { unloadModels?: boolean; freeMemory?: boolean }): void;
  close(): Promise<void>;
}
