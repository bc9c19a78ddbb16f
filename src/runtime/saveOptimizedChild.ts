// The background half of a first compile (deferredSave.ts): run as `node --import tsx saveOptimizedChild.ts
// <job JSON>`, detached and at the lowest CPU priority. Adopts the plain-model stage, takes the entry's
// `.saving` marker, lets ORT optimise the plain model and save it with pre-packed weights into a temporary
// folder beside the entry, renames that folder into place and removes the stage. Prints one line
// (`adopted`) once the parent may exit; anything else goes to the cache's deferred-save.log.
import { mkdirSync, renameSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { dirname, join } from 'node:path';
import { openSession } from './ortSession.ts';
import { ADOPTED_LINE, liveSaver, logSaveFailure, markerPath, removeDeadTemporaries, stageOwnedBy, type DeferredSaveJob } from './deferredSave.ts';

const job = JSON.parse(process.argv[2]) as DeferredSaveJob;
const cacheDir = dirname(job.entry);
// Before ORT starts its threads, which inherit the main thread's niceness.
try {
  setPriority(19);
} catch {
  // not allowed to lower priority: save at normal priority
}

/** Takes the entry's marker; false when a live process holds it (that one saves the same entry). */
function takeMarker(): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(markerPath(job.entry), String(process.pid), { flag: 'wx' });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (liveSaver(job.entry) !== undefined) return false;
      rmSync(markerPath(job.entry), { force: true }); // its saver died: stale
    }
  }
  return false;
}

let stage = job.stage;
let marked = false;
const tmp = `${job.entry}.tmp-${process.pid}-optimized`; // distinct from an adopted on-disk stage (…-<pid>-<time>)
try {
  const owned = stageOwnedBy(job.stage, process.pid);
  renameSync(job.stage, owned); // fails if the parent died and its stage was already swept: nothing to save
  stage = owned;
  marked = takeMarker();
  process.stdout.write(`${ADOPTED_LINE}\n`);
  if (marked && !existsSync(join(job.entry, job.optimizedModel))) {
    removeDeadTemporaries(cacheDir);
    mkdirSync(tmp);
    const session = await openSession(join(stage, job.plainModel), { provider: job.provider, threads: 1, disabledOptimizers: job.disabledOptimizers }, { saveOptimized: { path: join(tmp, job.optimizedModel), dataFile: job.optimizedData } });
    await session.release();
    try {
      renameSync(tmp, job.entry);
    } catch (err) {
      if (!existsSync(job.entry)) throw err; // another process's entry is as good
    }
  }
} catch (err) {
  logSaveFailure(cacheDir, err);
} finally {
  rmSync(tmp, { recursive: true, force: true });
  rmSync(stage, { recursive: true, force: true });
  if (marked && ownMarker()) rmSync(markerPath(job.entry), { force: true });
}

function ownMarker(): boolean {
  try {
    return readFileSync(markerPath(job.entry), 'utf8') === String(process.pid);
  } catch {
    return false;
  }
}
