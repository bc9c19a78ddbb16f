// Measures the server's own work per prompt — accepting its POST, dispatching it, relaying its events,
// storing its history and sending the closing messages — as the wall time of those synchronous sections on
// the main thread, for bench/server.ts. (A busy machine preempts the thread mid-section and swells the
// tail; Linux's per-thread CPU counters only advance at scheduler ticks, too coarse for sub-millisecond
// sections, so wall time it is.) Without a listener nothing is measured.
export type OverheadSection = 'accept' | 'dispatch' | 'relay' | 'complete';

/** A prompt's total and its split by section (relay = all its events together). */
export type OverheadListener = (promptId: string, ms: number, sections: Readonly<Record<OverheadSection, number>>) => void;

type Mark = number | undefined;

export interface OverheadMeter {
  start(): Mark;
  stop(promptId: string, mark: Mark, section: OverheadSection): void;
  /** Reports the prompt's total to the listener and forgets it. */
  complete(promptId: string): void;
}

export function createOverheadMeter(listener?: OverheadListener): OverheadMeter {
  if (!listener) return { start: () => undefined, stop() {}, complete() {} };
  const totals = new Map<string, Record<OverheadSection, number>>();
  return {
    start: () => performance.now(),
    stop(promptId, mark, section) {
      if (mark === undefined) return;
      let t = totals.get(promptId);
      if (!t) totals.set(promptId, (t = { accept: 0, dispatch: 0, relay: 0, complete: 0 }));
      t[section] += performance.now() - mark;
    },
    complete(promptId) {
      const t = totals.get(promptId);
      totals.delete(promptId);
      if (t !== undefined) listener(promptId, t.accept + t.dispatch + t.relay + t.complete, t);
    },
  };
}
