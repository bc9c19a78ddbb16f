// Deferred save of a first compile's optimised cache entry. Letting ORT save the optimised model with its
// pre-packed weights while the user's session is created cost 7–15 s of a 16–18 s SD1.5 first use (page
// faults for ~5 GB and a 4.6 GB write). So a cache miss opens the user's session from the emitted (plain)
// model straight away and leaves the save to a detached, niced child process (saveOptimizedChild.ts),
// which opens the same plain files with saveOptimized and renames the finished folder into the cache:
// the next start maps exactly what it mapped before.
//
// Why detached rather than waited for: a CLI run must not wait 15–30 s for a save the user did not ask
// for. The parent only waits (flushCompileCache) until the child has adopted the plain-model stage
// (renamed it to carry the child's pid: node start-up, ~0.35 s here), so a dead parent's stage is never swept
// away under the child by another process's clean-up of dead stages.
//
// Concurrency: the child holds `<entry>.saving` (its pid, created exclusively) while it saves; a marker
// whose pid no longer runs is stale and taken over. A process that misses the cache while a live saver
// holds the marker compiles for itself and starts no second saver. Whatever fails (or is killed) leaves
// no entry, so the next start is simply cold again; failures are appended to `<cache>/deferred-save.log`.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ExecutionProvider } from './ortSession.ts';

/** What the child needs to reproduce the save a compile would have made inline. */
export interface DeferredSaveJob {
  /** Folder holding the plain model and its external weights; the child removes it when done. */
  stage: string;
  plainModel: string;
  /** The cache entry folder to create. */
  entry: string;
  optimizedModel: string;
  optimizedData: string;
  provider: ExecutionProvider;
  disabledOptimizers: readonly string[];
}

export const SAVE_LOG = 'deferred-save.log';
export const ADOPTED_LINE = 'adopted';

interface Saver {
  entry: string;
  child: ChildProcess;
  /** Resolves once the child owns the stage (or has exited). */
  handoff: Promise<void>;
  /** Resolves when the child has exited. */
  exited: Promise<void>;
}

const savers = new Set<Saver>();

/** Waits until every saver this process started owns its stage, or with `untilSaved` until each has exited. */
export async function settleDeferredSaves(untilSaved: boolean): Promise<void> {
  while (true) {
    const open = [...savers];
    if (!open.length) return;
    await Promise.all(open.map((s) => s.handoff));
    if (!untilSaved) return;
    // A handed-off child is unref'd: waiting for its exit must keep this process alive again.
    for (const s of open) s.child.ref();
    await Promise.all(open.map((s) => s.exited));
  }
}

/**
 * Waits for this process's own save of `entry`, if one runs: a second compile of the same model in the same
 * process then maps the entry rather than compiling it again beside the saver.
 */
export async function ownSaveDone(entry: string): Promise<void> {
  const mine = [...savers].filter((s) => s.entry === entry);
  await Promise.all(mine.map((s) => s.handoff));
  for (const s of mine) s.child.ref();
  await Promise.all(mine.map((s) => s.exited));
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export const markerPath = (entry: string) => `${entry}.saving`;

/** The pid in a live `.saving` marker of `entry`, or undefined when there is none or it is stale. */
export function liveSaver(entry: string): number | undefined {
  try {
    const pid = Number(readFileSync(markerPath(entry), 'utf8'));
    return pid && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Removes `<entry>.tmp-<pid>-…` folders in `cacheDir` whose process is gone (killed mid-compile or mid-save). */
export function removeDeadTemporaries(cacheDir: string): void {
  let names: string[];
  try {
    names = readdirSync(cacheDir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(/\.tmp-(\d+)-/.exec(name)?.[1]);
    if (pid && pid !== process.pid && !alive(pid)) rmSync(join(cacheDir, name), { recursive: true, force: true });
  }
}

/** `stage` renamed to carry `pid` instead of its creator's: `…-<pid>-…` in its last path component. */
export function stageOwnedBy(stage: string, pid: number): string {
  return join(dirname(stage), basename(stage).replace(/-\d+-/, `-${pid}-`));
}

function tsxLoader(): string {
  const pkg = createRequire(import.meta.url).resolve('tsx/package.json');
  return pathToFileURL(join(dirname(pkg), 'dist', 'loader.mjs')).href;
}

/** Starts the background save of `job`; never throws (a failed start only means the next start is cold). */
export function startDeferredSave(job: DeferredSaveJob): void {
  const child = (() => {
    try {
      const script = fileURLToPath(new URL('./saveOptimizedChild.ts', import.meta.url));
      return spawn(process.execPath, ['--import', tsxLoader(), script, JSON.stringify(job)], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    } catch (err) {
      logSaveFailure(dirname(job.entry), err);
      return undefined;
    }
  })();
  if (!child) {
    rmSync(job.stage, { recursive: true, force: true });
    return;
  }
  const exited = new Promise<void>((resolve) => {
    child.on('error', (err) => (logSaveFailure(dirname(job.entry), err), resolve()));
    child.on('exit', () => resolve());
  }).then(() => {
    // A child that never adopted the stage (failed to start, died early) leaves it under this process's name.
    rmSync(job.stage, { recursive: true, force: true });
  });
  const handoff = new Promise<void>((resolve) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes(`${ADOPTED_LINE}\n`)) resolve();
    });
    void exited.then(resolve);
  }).then(() => {
    // From here the child runs on its own: this process may exit without waiting for it.
    child.stdout!.destroy();
    child.unref();
  });
  const saver = { entry: job.entry, child, handoff, exited };
  savers.add(saver);
  void exited.then(() => savers.delete(saver));
}

export function logSaveFailure(cacheDir: string, err: unknown): void {
  try {
    const line = `${new Date().toISOString()} pid ${process.pid}: could not save the optimised model (${(err as Error)?.message ?? err}); it will be compiled again next time\n`;
    appendFileSync(join(cacheDir, SAVE_LOG), line);
  } catch {
    // nowhere to log: the only consequence is a cold start next time
  }
}
