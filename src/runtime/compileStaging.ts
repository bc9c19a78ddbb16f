// Where a first compile writes its intermediate files. Emission writes the plain model and all its weights
// (3.4 GB for an f32 SD1.5 UNet) and ORT reads them back: on this machine kind's disk a 3.4 GB write at
// ~200 MB/s. With room in RAM (Linux /dev/shm) the stage goes there instead (~1 GB/s) and the session opens
// as soon as ORT is done. An f16 entry (the plain model itself) is then copied into the compile cache in the
// background while the model already runs; an f32 entry is saved from the stage by a background process
// (deferredSave.ts). Entries appear by rename once complete, so a reader never sees half of one.
// `flushCompileCache()` waits for the copies and for the savers' hand-over (the CLI calls it before
// exiting). A stage left by a process that died is removed by the next compile that stages.
import { existsSync, mkdirSync, readdirSync, rmSync, statfsSync } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { freemem } from 'node:os';
import { join } from 'node:path';
import { alive, ownSaveDone, settleDeferredSaves } from './deferredSave.ts';

const RAM_ROOT = '/dev/shm';
const STAGE_PREFIX = 'inkflow-compile-';

/** Background copies by cache entry folder. */
const pending = new Map<string, Promise<void>>();

/**
 * Resolves when every background copy into the compile cache has finished (or failed) and every deferred
 * save (deferredSave.ts) runs on its own, so the process may exit; with `untilSaved`, once those saves
 * have finished too. `INKFLOW_CACHE_SAVE=wait` makes that the default, for the CLI's exit and the server's
 * executor too: a build step that pre-warms a cache, or a test suite that removes its cache folder after a
 * command, needs the entry complete and no saver still writing into the folder.
 */
export async function flushCompileCache(opts: { untilSaved?: boolean } = {}): Promise<void> {
  while (pending.size) await Promise.allSettled([...pending.values()]);
  await settleDeferredSaves(opts.untilSaved ?? process.env.INKFLOW_CACHE_SAVE === 'wait');
}

/** Waits for this process's background copy or save into `dir`, if one runs (a second compile of the same model). */
export async function entryWritten(dir: string): Promise<void> {
  await pending.get(dir);
  await ownSaveDone(dir);
}

/** Removes stages of processes that no longer run (a crash mid-compile would otherwise hold RAM until reboot). */
function removeDeadStages(): void {
  for (const name of readdirSync(RAM_ROOT)) {
    const pid = Number(/^inkflow-compile-(\d+)-/.exec(name)?.[1]);
    if (pid && pid !== process.pid && !alive(pid)) rmSync(join(RAM_ROOT, name), { recursive: true, force: true });
  }
}

/**
 * A fresh RAM folder for a compile whose weights take `weightBytes`, or undefined when staging in RAM is off
 * (INKFLOW_COMPILE_STAGING=disk), impossible (no /dev/shm) or would crowd memory: the plain weights, ORT's
 * copy and the optimised file can all be alive at once, so three times the weights plus 1 GB must be free.
 */
export function ramStage(weightBytes: number): string | undefined {
  if (process.env.INKFLOW_COMPILE_STAGING === 'disk' || process.platform !== 'linux' || !existsSync(RAM_ROOT)) return undefined;
  const need = 3 * weightBytes + 2 ** 30;
  try {
    const fs = statfsSync(RAM_ROOT);
    // The plain weights plus the optimised entry (its weights and their pre-packed copies, up to ~1.4×).
    if (fs.bavail * fs.bsize < 2.5 * weightBytes + 2 ** 28 || freemem() < need) return undefined;
    removeDeadStages();
    const dir = join(RAM_ROOT, `${STAGE_PREFIX}${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`);
    mkdirSync(dir);
    return dir;
  } catch {
    return undefined; // an unusable /dev/shm only means the slower disk path
  }
}

/**
 * Copies every file of `stage` into the cache entry `dir` (through `${dir}.tmp-…` and a rename, as a compile
 * on disk does), then removes the stage. Runs in the background; flushCompileCache() waits for it.
 */
export function persistStage(stage: string, dir: string): void {
  const job = (async () => {
    const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
    try {
      await mkdir(tmp, { recursive: true });
      for (const f of await readdir(stage)) await copyFile(join(stage, f), join(tmp, f));
      try {
        await rename(tmp, dir);
      } catch (err) {
        if (!existsSync(dir)) throw err; // another process won the race: its entry is as good
      }
    } catch (err) {
      console.warn(`inkflow: could not store the compiled model in the cache (${(err as Error).message}); it will be compiled again next time`);
    } finally {
      await rm(tmp, { recursive: true, force: true });
      await rm(stage, { recursive: true, force: true });
    }
  })();
  pending.set(dir, job);
  void job.finally(() => pending.get(dir) === job && pending.delete(dir));
}
