// Measures the server's own work per prompt — accepting its POST (from the parsing of its body to the
// written answer), dispatching it, relaying its events, storing its history and sending the closing
// messages, plus its share of the queue-status broadcasts — as the wall time of those synchronous sections
// on the main thread, for bench/server.ts. Without a listener nothing is measured.
// On a busy machine (and on a 2-core one, where the bench's own clients and the executor thread wake up
// beside the server) the kernel preempts the thread inside sections and the wall time swells with other
// threads' work. So each section also reads how long the thread sat runnable but waiting for a CPU
// (run_delay in /proc/thread-self/schedstat, updated at every switch-in, so exact at the read): wall minus
// that wait is the server's own time, blocking system calls (disk, sockets) included. Node's own per-thread
// CPU clock (getrusage) only advances at scheduler ticks, too coarse for sub-millisecond sections.
import { closeSync, openSync, readSync } from 'node:fs';

/**
 * route = Fastify routing a POST /prompt's head; accept = from parsing its body to the written answer;
 * status = its share of the queue-status broadcast that follows accepted prompts; then its run.
 */
export const OVERHEAD_SECTIONS = ['route', 'accept', 'status', 'dispatch', 'relay', 'complete'] as const;
export type OverheadSection = (typeof OVERHEAD_SECTIONS)[number];

export type SectionTimes = Record<OverheadSection, number>;

/** One prompt's time: `wall` per section, and `own` = wall minus the time the thread waited for a CPU. */
export interface PromptOverhead {
  wall: Readonly<SectionTimes>;
  own: Readonly<SectionTimes>;
}

/** A prompt's sections once it completed (relay = all its events together). */
export type OverheadListener = (promptId: string, overhead: PromptOverhead) => void;

export interface Mark {
  readonly t: number;
  /** run_delay at the start, in ms (NaN where the kernel does not report it). */
  readonly waited: number;
}

export interface OverheadMeter {
  start(): Mark | undefined;
  stop(promptId: string, mark: Mark | undefined, section: OverheadSection): void;
  /** Time measured before the prompt had an id (its request's parsing): added as is. */
  add(promptId: string, section: OverheadSection, wallMs: number, ownMs: number): void;
  /** Ends a section shared by several prompts (one broadcast for all of them): each gets an equal part. */
  stopShared(promptIds: readonly string[], mark: Mark | undefined, section: OverheadSection): void;
  /** Wall and own ms since `mark` (for time that is added to a prompt later). */
  since(mark: Mark | undefined): [number, number];
  /** Reports the prompt's sections to the listener and forgets it. */
  complete(promptId: string): void;
  readonly enabled: boolean;
  close(): void;
}

const zero = (): SectionTimes => Object.fromEntries(OVERHEAD_SECTIONS.map((s) => [s, 0])) as SectionTimes;

/** This thread's run_delay in ms, read from an open /proc/thread-self/schedstat ("exec_ns delay_ns slices"). */
function runDelayReader(): { read(): number; close(): void } {
  let fd: number;
  try {
    fd = openSync('/proc/thread-self/schedstat', 'r');
  } catch {
    return { read: () => NaN, close() {} };
  }
  const buf = Buffer.alloc(96);
  return {
    read() {
      const n = readSync(fd, buf, 0, buf.length, 0);
      const line = buf.toString('latin1', 0, n);
      const a = line.indexOf(' ');
      return Number(line.slice(a + 1, line.indexOf(' ', a + 1))) / 1e6;
    },
    close: () => closeSync(fd),
  };
}

export function createOverheadMeter(listener?: OverheadListener): OverheadMeter {
  if (!listener) {
    return { start: () => undefined, stop() {}, add() {}, stopShared() {}, since: () => [0, 0], complete() {}, enabled: false, close() {} };
  }
  const delay = runDelayReader();
  const totals = new Map<string, PromptOverhead & { wall: SectionTimes; own: SectionTimes }>();
  const add = (promptId: string, section: OverheadSection, wall: number, own: number) => {
    let t = totals.get(promptId);
    if (!t) totals.set(promptId, (t = { wall: zero(), own: zero() }));
    t.wall[section] += wall;
    t.own[section] += own;
  };
  const since = (mark: Mark | undefined): [number, number] => {
    if (mark === undefined) return [0, 0];
    const wall = performance.now() - mark.t;
    const waited = delay.read() - mark.waited;
    return [wall, Number.isNaN(waited) ? wall : Math.max(0, wall - waited)];
  };
  return {
    enabled: true,
    start: () => ({ waited: delay.read(), t: performance.now() }),
    stop(promptId, mark, section) {
      if (mark !== undefined) add(promptId, section, ...since(mark));
    },
    add,
    stopShared(promptIds, mark, section) {
      if (mark === undefined || promptIds.length === 0) return;
      const [wall, own] = since(mark);
      for (const id of promptIds) add(id, section, wall / promptIds.length, own / promptIds.length);
    },
    since,
    complete(promptId) {
      const t = totals.get(promptId);
      totals.delete(promptId);
      if (t !== undefined) listener(promptId, t);
    },
    close: () => delay.close(),
  };
}
