// The compile cache shared by processes (CLI, server, workers): two processes that compile the same model
// into the same cache at the same moment both finish with the same model, one entry stays and no temporary
// folder is left behind; a third process opens that entry without compiling.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'inkflow-cache-race-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface ChildResult { fromCache: boolean; key: string; sum: number; staged: boolean }

/** Starts the child; resolves `ready` once it has loaded, `done` with its result. */
function startChild(cache: string, barrier: string, staging: 'ram' | 'disk') {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/runtime/compileChild.ts'), barrier], {
    cwd: root,
    env: { ...process.env, INKFLOW_CACHE: cache, INKFLOW_COMPILE_STAGING: staging },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let onReady: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  child.stdout.on('data', (d) => {
    out += d;
    if (out.includes('ready\n')) onReady();
  });
  child.stderr.on('data', (d) => (err += d));
  const done = new Promise<ChildResult>((res, rej) =>
    child.on('exit', (code) => {
      if (code !== 0) return rej(new Error(`compile child exited ${code}: ${err}`));
      res(JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult);
    }),
  );
  return { ready, done, pid: child.pid! };
}

/**
 * Waits until the detached savers the children left behind (runtime/deferredSave.ts) are done: no `.saving`
 * marker and no temporary folder in `cache`. Bounded by the test's timeout.
 */
async function savesSettled(cache: string): Promise<void> {
  while (readdirSync(cache).some((n) => n.endsWith('.saving') || n.includes('.tmp-'))) await new Promise((r) => setTimeout(r, 50));
}

describe('compile cache shared by processes', () => {
  // 'ram': the first compile is staged in /dev/shm; 'disk': staged in the cache folder itself. Either way a
  // detached saver writes the optimised entry after the process has exited. Both must end with one complete
  // entry, at most one saver having written it.
  it.each(['ram', 'disk'] as const)('two processes compiling the same model at once both succeed; one entry stays, no temporary folder (%s staging)', async (staging) => {
    const cache = join(dir, `cache-${staging}`);
    const barrier = join(dir, `go-${staging}`);
    const a = startChild(cache, barrier, staging);
    const b = startChild(cache, barrier, staging);
    await Promise.all([a.ready, b.ready]);
    writeFileSync(barrier, '');
    const [ra, rb] = await Promise.all([a.done, b.done]);
    // Both really compiled (neither found the other's entry first), so the rename race was run.
    expect([ra.fromCache, rb.fromCache]).toEqual([false, false]);
    expect(ra.key).toBe(rb.key);
    expect(ra.sum).toBe(rb.sum);
    await savesSettled(cache);
    expect(readdirSync(cache)).toEqual([ra.key.slice(0, 32)]);
    const c = startChild(cache, '', staging);
    const rc = await c.done;
    expect(rc).toEqual({ ...ra, fromCache: true, staged: false });
    // No stage of these (finished) processes is left holding RAM.
    const stagesOf = (pid: number) => (existsSync('/dev/shm') ? readdirSync('/dev/shm').filter((n) => n.startsWith(`inkflow-compile-${pid}-`)) : []);
    expect([...stagesOf(a.pid), ...stagesOf(b.pid)]).toEqual([]);
    // Each compiling child saw its own stage in RAM right after compiling, or none when staging on disk.
    expect([ra.staged, rb.staged]).toEqual(staging === 'ram' ? [true, true] : [false, false]);
  }, 120_000);
});
