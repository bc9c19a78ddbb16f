// The compile cache shared by processes (CLI, server, workers): two processes that compile the same model
// into the same cache at the same moment both finish with the same model, one entry stays and no temporary
// folder is left behind; a third process opens that entry without compiling.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'inkflow-cache-race-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface ChildResult { fromCache: boolean; key: string; sum: number }

/** Starts the child; resolves `ready` once it has loaded, `done` with its result. */
function startChild(cache: string, barrier: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/runtime/compileChild.ts'), barrier], {
    cwd: root,
    env: { ...process.env, INKFLOW_CACHE: cache },
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
  return { ready, done };
}

describe('compile cache shared by processes', () => {
  it('two processes compiling the same model at once both succeed; one entry stays, no temporary folder', async () => {
    const cache = join(dir, 'cache');
    const barrier = join(dir, 'go');
    const a = startChild(cache, barrier);
    const b = startChild(cache, barrier);
    await Promise.all([a.ready, b.ready]);
    writeFileSync(barrier, '');
    const [ra, rb] = await Promise.all([a.done, b.done]);
    // Both really compiled (neither found the other's entry first), so the rename race was run.
    expect([ra.fromCache, rb.fromCache]).toEqual([false, false]);
    expect(ra.key).toBe(rb.key);
    expect(ra.sum).toBe(rb.sum);
    expect(readdirSync(cache)).toEqual([ra.key.slice(0, 32)]);
    const c = startChild(cache, '');
    const rc = await c.done;
    expect(rc).toEqual({ ...ra, fromCache: true });
  }, 120_000);
});
