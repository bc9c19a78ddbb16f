// `npm run bench -- server`: a bounded loopback load test of the server (real sockets, in-process queue
// with the executor in its thread). 50 WebSocket clients submit 1000 tiny image-only jobs (EmptyImage 8×8 →
// ImageInvert → PreviewImage, a different colour per job so nothing comes from the node cache); every job
// must come back exactly once — lost and duplicated results are counted from the WebSocket messages and
// from /history.
// Server overhead per job = the server's own main-thread work for that job: its POST (route: Fastify's
// routing; accept: body parsing, validation, SQLite insert, the answer's serialisation and write; status:
// its share of the queue-status broadcast to every socket), dispatch, relaying every event to its client, the history write and the closing messages
// (startServer's onPromptOverhead: those synchronous sections, src/server/overheadMeter.ts). Executor
// (node) time is not in it. Goal: p99 ≤ 5 ms. Each section is measured twice: "own" = wall time minus the
// time the kernel kept the thread waiting for a CPU while other threads ran (the load generator and the
// executor thread share the machine's cores; so does every other job on a shared machine), and "wall" =
// plain wall time, which swells with the load average printed beside it. As a check that the sections miss
// no work, the main thread's total busy time (event-loop utilisation, GC and everything included) per job
// is printed too: it is the mean of everything, so it must stay above the sections' mean.
// The server runs in a process of its own (bench/serverProcess.ts), as in real use, so the load generator's
// allocations and GC never land in its measured sections; per-section p50/p99/max are printed. That process
// gets the node flags `inkflow serve` runs with (SERVE_NODE_FLAGS, src/cli/serveLauncher.ts), so the bench
// measures the server as it ships.
// Knobs: INKFLOW_BENCH_SERVER_JOBS (1000), INKFLOW_BENCH_SERVER_CLIENTS (50), INKFLOW_BENCH_SERVER_NODE_FLAGS
// (further node flags for the server process, after the shipped ones, e.g. --cpu-prof).
import WebSocket from 'ws';
import { availableParallelism, loadavg } from 'node:os';
import { fork, type ChildProcess } from 'node:child_process';
import { tempDir, cleanupAll } from '../test/server/harness.ts';
import type { ServerProcessReport } from './serverProcess.ts';
import { SERVE_NODE_FLAGS } from '../src/cli/serveLauncher.ts';

interface JobTimes {
  id: string;
  postSent: number;
  accepted?: number;
  start?: number;
  success?: number;
  done?: number;
  successes: number;
  dones: number;
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function tinyJob(k: number): Record<string, unknown> {
  return {
    '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: k % 0xffffff } },
    '2': { class_type: 'ImageInvert', inputs: { image: ['1', 0] } },
    '3': { class_type: 'PreviewImage', inputs: { images: ['2', 0] } },
  };
}

/** The child's first IPC message carrying `key` (rejects if it exits first). */
function childMessage<T>(child: ChildProcess, key: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: Record<string, unknown>) => {
      if (!(key in m)) return;
      child.off('message', onMessage);
      resolve(m as T);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`the bench server process exited (code ${code}) before sending ${key}`)));
  });
}

export async function runServerBench(): Promise<void> {
  const jobs = Number(process.env.INKFLOW_BENCH_SERVER_JOBS ?? 1000);
  const clients = Number(process.env.INKFLOW_BENCH_SERVER_CLIENTS ?? 50);
  // The flags `inkflow serve` ships with, then any extra ones, e.g. INKFLOW_BENCH_SERVER_NODE_FLAGS=--trace-gc (a later
  // value of the same V8 flag wins: INKFLOW_BENCH_SERVER_NODE_FLAGS=--max-semi-space-size=16 measures the old default).
  const nodeFlags = [...SERVE_NODE_FLAGS, ...(process.env.INKFLOW_BENCH_SERVER_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean)];
  console.log(`server process node flags: ${nodeFlags.join(' ')}`);
  const child = fork(new URL('./serverProcess.ts', import.meta.url).pathname, [tempDir('inkflow-bench-server-')], {
    execArgv: ['--import', 'tsx', ...nodeFlags],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const server = { url: await childMessage<{ url: string }>(child, 'url').then((m) => m.url) };
  const byId = new Map<string, JobTimes>();
  const extraSuccess: string[] = [];
  try {
    const sockets = await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/ws?clientId=bench-${c}`);
        ws.on('message', (raw, isBinary) => {
          if (isBinary) return;
          const t = performance.now();
          const m = JSON.parse(String(raw)) as { type: string; data: Record<string, unknown> };
          const id = m.data?.prompt_id as string | undefined;
          if (!id) return;
          const j = byId.get(id);
          if (!j) {
            if (m.type === 'execution_success') extraSuccess.push(id);
            return;
          }
          if (m.type === 'execution_start') j.start ??= t;
          else if (m.type === 'execution_success') {
            j.success ??= t;
            j.successes++;
          } else if (m.type === 'executing' && m.data.node === null) {
            j.done ??= t;
            j.dones++;
          }
        });
        await new Promise((res, rej) => (ws.once('open', res), ws.once('error', rej)));
        return ws;
      }),
    );
    child.send({ load: 'start' });
    const t0 = performance.now();
    let next = 0;
    let rejected = 0;
    await Promise.all(
      sockets.map(async (_, c) => {
        for (;;) {
          const k = next++;
          if (k >= jobs) return;
          const postSent = performance.now();
          const res = await fetch(`${server.url}/prompt`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ prompt: tinyJob(k), client_id: `bench-${c}` }),
          });
          const body = (await res.json()) as { prompt_id?: string };
          if (res.status !== 200 || !body.prompt_id) {
            rejected++;
            continue;
          }
          const existing = byId.get(body.prompt_id);
          const j: JobTimes = existing ?? { id: body.prompt_id, postSent, successes: 0, dones: 0 };
          j.postSent = postSent;
          j.accepted = performance.now();
          byId.set(body.prompt_id, j);
        }
      }),
    );
    // Bounded: every job must be back within 10 minutes, else the rest counts as lost.
    const deadline = Date.now() + 600_000;
    while ([...byId.values()].some((j) => j.done === undefined) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const wall = performance.now() - t0;
    child.send({ load: 'end' });

    const history = (await (await fetch(`${server.url}/history`)).json()) as Record<string, { status: { status_str: string } }>;
    const all = [...byId.values()];
    const lost = all.filter((j) => j.success === undefined || !history[j.id]).length;
    const duplicated = all.filter((j) => j.successes > 1 || j.dones > 1).length + extraSuccess.length;
    const historyExtra = Object.keys(history).filter((id) => !byId.has(id)).length;
    const failed = Object.values(history).filter((h) => h.status.status_str !== 'success').length;

    const ordered = all.filter((j) => j.start !== undefined && j.done !== undefined).sort((a, b) => a.start! - b.start!);
    const accept: number[] = [];
    const handoff: number[] = [];
    const finish: number[] = [];
    const wallOverhead: number[] = [];
    const executor: number[] = [];
    for (const ws of sockets) ws.close();
    child.send({ report: true });
    const { report } = await childMessage<{ report: ServerProcessReport }>(child, 'report');
    const measured = all.map((j) => report.overheadById[j.id]).filter((x) => x !== undefined);
    const overhead = measured.map((x) => x.own);
    const overheadWall = measured.map((x) => x.wall);
    ordered.forEach((j, i) => {
      const a = j.accepted! - j.postSent;
      const prevDone = i > 0 ? ordered[i - 1].done! : -Infinity;
      const h = Math.max(0, j.start! - Math.max(prevDone, j.accepted!));
      const f = j.done! - j.success!;
      accept.push(a);
      handoff.push(h);
      finish.push(f);
      wallOverhead.push(a + h + f);
      executor.push(j.success! - j.start!);
    });
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const meanOwn = mean(overhead);
    const meanWall = mean(overheadWall);
    for (const xs of [accept, handoff, finish, wallOverhead, overhead, overheadWall, executor, ...Object.values(report.sections.own), ...Object.values(report.sections.wall)]) {
      xs.sort((a, b) => a - b);
    }
    const row = (name: string, xs: number[]) =>
      console.log(`${name.padEnd(22)} p50 ${percentile(xs, 50).toFixed(2).padStart(7)} ms   p99 ${percentile(xs, 99).toFixed(2).padStart(7)} ms   max ${(xs.at(-1) ?? NaN).toFixed(2).padStart(7)} ms`);
    console.log(`jobs ${jobs} from ${clients} WebSocket clients: accepted ${byId.size}, rejected ${rejected}, lost ${lost}, duplicated ${duplicated}, history extra ${historyExtra}, failed ${failed}`);
    row(`overhead/job own (${overhead.length})`, overhead);
    for (const [name, xs] of Object.entries(report.sections.own)) row(`  ${name}`, xs);
    row('  wall (incl. waiting)', overheadWall);
    for (const [name, xs] of Object.entries(report.sections.wall)) row(`  ${name} wall`, xs);
    console.log(
      `mean per job: sections ${meanOwn.toFixed(2)} ms own, ${meanWall.toFixed(2)} ms wall; main thread busy ${(report.busyMs / jobs).toFixed(2)} ms (all its work during the load / jobs)`,
    );
    console.log(`server process peak RSS ${report.peakRssMb.toFixed(0)} MB`);
    console.log(`load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} cores; end-to-end as the clients saw it:`);
    console.log(`wall ${(wall / 1000).toFixed(2)} s, ${((1000 * ordered.length) / wall).toFixed(0)} jobs/s`);
    row('  accept (POST)', accept);
    row('  handoff', handoff);
    row('  finish', finish);
    row('  accept+handoff+finish', wallOverhead);
    row('  executor', executor);
    const p99 = percentile(overhead, 99);
    console.log(
      `goal: lost 0, duplicated 0, p99 overhead ${p99.toFixed(2)} ms (goal ≤ 5 ms; wall ${percentile(overheadWall, 99).toFixed(2)} ms at load ${loadavg()[0].toFixed(1)}) → ${lost === 0 && duplicated === 0 && p99 <= 5 ? 'met' : 'NOT met'}`,
    );
  } finally {
    // The server exits by itself after its report (writing --cpu-prof output); only a stuck one is killed.
    if (child.exitCode === null) await Promise.race([new Promise((r) => child.once('exit', r)), new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null) child.kill();
    cleanupAll();
  }
}
