// The server of `npm run bench -- server`, in a process of its own as in real use: the load generator's
// 50 WebSocket clients and its fetch() calls allocate far more than the server does, and in one process
// their garbage would be collected inside the server's measured sections. Talks to bench/server.ts over
// the fork IPC channel: sends {url} once listening; {load: 'start'} marks the start of the load (for the
// main thread's total busy time) and {load: 'end'} its end; on {report} sends every prompt's overhead and closes.
import { startServer } from '../src/server/startServer.ts';
import { inkflowWorkflow } from '../src/server/inkflowWorkflow.ts';
import { OVERHEAD_SECTIONS, type OverheadSection, type SectionTimes } from '../src/server/overheadMeter.ts';

type Sections = Record<OverheadSection, number[]>;

export interface ServerProcessReport {
  /** Per prompt: the sum of its sections' wall time, and of its own time (wall minus waiting for a CPU). */
  overheadById: Record<string, { wall: number; own: number }>;
  sections: { wall: Sections; own: Sections };
  /**
   * Main-thread time not idle in the event loop from the start of the load to its end (every piece of
   * work: HTTP, WebSocket, SQLite, GC, whatever no section covers), in ms.
   */
  busyMs: number;
  /** The server process's peak resident memory, in MB (the price of its young-generation size, among others). */
  peakRssMb: number;
}

const dataDir = process.argv[2];
if (!dataDir || !process.send) throw new Error('bench/serverProcess.ts is started by bench/server.ts (fork with a data folder)');
const emptySections = (): Sections => Object.fromEntries(OVERHEAD_SECTIONS.map((s) => [s, []])) as unknown as Sections;
const report: ServerProcessReport = { overheadById: {}, sections: { wall: emptySections(), own: emptySections() }, busyMs: NaN, peakRssMb: NaN };
const sum = (t: Readonly<SectionTimes>) => OVERHEAD_SECTIONS.reduce((a, s) => a + t[s], 0);
const server = await startServer({
  dataDir,
  workflow: inkflowWorkflow,
  port: 0,
  onPromptOverhead: (id, { wall, own }) => {
    report.overheadById[id] = { wall: sum(wall), own: sum(own) };
    for (const k of Object.keys(wall) as OverheadSection[]) {
      report.sections.wall[k].push(wall[k]);
      report.sections.own[k].push(own[k]);
    }
  },
});
let loadStart = performance.eventLoopUtilization();
process.on('message', async (m: { report?: true; load?: 'start' | 'end' }) => {
  if (m.load === 'start') loadStart = performance.eventLoopUtilization();
  if (m.load === 'end') report.busyMs = performance.eventLoopUtilization(loadStart).active;
  if (!m.report) return;
  report.peakRssMb = process.resourceUsage().maxRSS / 1024;
  await server.close();
  process.send!({ report }, () => process.exit(0));
});
process.send({ url: server.url });
