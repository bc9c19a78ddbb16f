// Measures the server's own work per prompt — accepting its POST, dispatching it, relaying its events,
// storing its history — on the main thread, for bench/server.ts. Wall time of these synchronous sections
// swells when the machine is busy (the thread is preempted mid-section), so the thread's CPU time is
// measured too, from Linux's /proc/thread-self/schedstat (nanoseconds on the CPU). Without a listener
// nothing is measured and nothing is read.
import { readFileSync } from 'node:fs';

export interface Overhead {
  wallMs: number;
  /** NaN where /proc/thread-self/schedstat is not available. */
  cpuMs: number;
}

export type OverheadListener = (promptId: string, spent: Overhead) => void;

type Mark = { wall: number; cpu: number } | undefined;

export interface OverheadMeter {
  start(): Mark;
  stop(promptId: string, mark: Mark): void;
  /** Reports the prompt's total to the listener and forgets it. */
  complete(promptId: string): void;
}

function threadCpuMs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]) / 1e6;
  } catch {
    return NaN;
  }
}

export function createOverheadMeter(listener?: OverheadListener): OverheadMeter {
  if (!listener) return { start: () => undefined, stop() {}, complete() {} };
  const totals = new Map<string, Overhead>();
  return {
    start: () => ({ wall: performance.now(), cpu: threadCpuMs() }),
    stop(promptId, mark) {
      if (!mark) return;
      const t = totals.get(promptId) ?? { wallMs: 0, cpuMs: 0 };
      t.wallMs += performance.now() - mark.wall;
      t.cpuMs += threadCpuMs() - mark.cpu;
      totals.set(promptId, t);
    },
    complete(promptId) {
      const t = totals.get(promptId);
      totals.delete(promptId);
      if (t) listener(promptId, t);
    },
  };
}
