// Measures the server's own work per prompt — accepting its POST, dispatching it, relaying its events,
// storing its history and sending the closing messages — as the wall time of those synchronous sections on
// the main thread, for bench/server.ts. (A busy machine preempts the thread mid-section and swells the
// tail; Linux's per-thread CPU counters only advance at scheduler ticks, too coarse for sub-millisecond
// sections, so wall time it is.) Without a listener nothing is measured.
export type OverheadListener = (promptId: string, ms: number) => void;

type Mark = number | undefined;

export interface OverheadMeter {
  start(): Mark;
  stop(promptId: string, mark: Mark): void;
  /** Reports the prompt's total to the listener and forgets it. */
  complete(promptId: string): void;
}

export function createOverheadMeter(listener?: OverheadListener): OverheadMeter {
  if (!listener) return { start: () => undefined, stop() {}, complete() {} };
  const totals = new Map<string, number>();
  return {
    start: () => performance.now(),
    stop(promptId, mark) {
      if (mark === undefined) return;
      totals.set(promptId, (totals.get(promptId) ?? 0) + performance.now() - mark);
    },
    complete(promptId) {
      const t = totals.get(promptId);
      totals.delete(promptId);
      if (t !== undefined) listener(promptId, t);
    },
  };
}
