// The server of `npm run bench -- server`, in a process of its own as in real use: the load generator's
// 50 WebSocket clients and its fetch() calls allocate far more than the server does, and in one process
// their garbage would be collected inside the server's measured sections. Talks to bench/server.ts over
// the fork IPC channel: sends {url} once listening; on {report} sends every prompt's overhead and closes.
import { startServer } from '../src/server/startServer.ts';
import { inkflowWorkflow } from '../src/server/inkflowWorkflow.ts';
import type { OverheadSection } from '../src/server/overheadMeter.ts';

export interface ServerProcessReport {
  overheadById: Record<string, number>;
  sections: Record<OverheadSection, number[]>;
}

const dataDir = process.argv[2];
if (!dataDir || !process.send) throw new Error('bench/serverProcess.ts is started by bench/server.ts (fork with a data folder)');
const report: ServerProcessReport = { overheadById: {}, sections: { accept: [], dispatch: [], relay: [], complete: [] } };
const server = await startServer({
  dataDir,
  workflow: inkflowWorkflow,
  port: 0,
  onPromptOverhead: (id, spent, sections) => {
    report.overheadById[id] = spent;
    for (const k of Object.keys(report.sections) as OverheadSection[]) report.sections[k].push(sections[k]);
  },
});
process.on('message', async (m: { report?: true }) => {
  if (!m.report) return;
  await server.close();
  process.send!({ report }, () => process.exit(0));
});
process.send({ url: server.url });
