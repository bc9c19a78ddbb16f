// Moves SQLite's WAL checkpoints off the server's thread. With the default auto-checkpoint, the commit that
// pushes the WAL past 1000 pages copies them into the database file and fsyncs it, inside whichever request
// or job step committed — a few milliseconds every ~100 prompts, which was most of the server's p99. Here the
// store's own connection never checkpoints (wal_autocheckpoint = 0) and a small worker thread with a second
// connection runs PASSIVE checkpoints: when the store has made `commitsPerCheckpoint` commits (about
// SQLite's own rhythm), and on a slow timer for what an idle queue leaves. PASSIVE never blocks the writer,
// and once every frame is copied the writer starts the WAL from its beginning again, so the file stays
// small. (Checkpointing on a fast timer instead was worse: each fsync briefly slows the writer's own WAL
// writes on a busy disk, so fewer, larger checkpoints it is.)
// Durability is unchanged: a commit is durable against a process crash once it is in the WAL (synchronous =
// NORMAL), checkpointed or not, and recovery after kill -9 replays the WAL.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

export interface WalCheckpointer {
  /** Counts one commit of the store; every `commitsPerCheckpoint` commits a checkpoint is asked for. */
  committed(): void;
  /** Stops the timer and closes the thread's connection (the store's close() checkpoints what is left). */
  close(): Promise<void>;
}

export interface WalCheckpointerOptions {
  /** Commits between checkpoints (default 256: roughly SQLite's 1000-page rhythm for queue rows). */
  commitsPerCheckpoint?: number;
  /** Checkpoint at least this often when anything was committed (default 5 s). */
  intervalMs?: number;
}

/** Plain CommonJS so the thread needs no TypeScript loader; it reads better-sqlite3 from the given path. */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 5000');
const checkpoint = () => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (e) { parentPort.postMessage({ failed: String(e && e.message || e) }); }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m === 'checkpoint') return checkpoint();
  if (m !== 'close') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export function startWalCheckpointer(path: string, opts: WalCheckpointerOptions = {}): WalCheckpointer {
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
  const perCheckpoint = opts.commitsPerCheckpoint ?? 256;
  const worker = new Worker(THREAD_SOURCE, { eval: true, workerData: { path, sqlite, intervalMs: opts.intervalMs ?? 5000 } });
  worker.unref();
  // A failed checkpoint loses nothing (the WAL keeps the data); the next tick tries again. Say it once.
  let warned = false;
  worker.on('message', (m: { failed?: string }) => {
    if (m.failed && !warned) {
      warned = true;
      console.warn(`inkflow: background WAL checkpoint failed (${m.failed}); the queue database keeps working, its WAL file may grow`);
    }
  });
  worker.on('error', (e: Error) => console.warn(`inkflow: the WAL checkpoint thread stopped: ${e.message}`));
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  let commits = 0;
  return {
    committed() {
      if (++commits < perCheckpoint) return;
      commits = 0;
      worker.postMessage('checkpoint');
    },
    async close() {
      worker.postMessage('close');
      await exited;
    },
  };
}
