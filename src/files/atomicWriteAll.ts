// Several outputs of one command (a batch of candidates, an image and its side layers) appear together
// or not at all: every file is first written whole to a temporary name (a full disk fails here, before
// any name is taken), then all are published. If publishing one fails, the ones already published are
// taken back — and with `overwrite`, the files they replaced are put back.
import { existsSync, linkSync, renameSync, rmSync } from 'node:fs';
import { OutputExistsError, tempNameFor, writeAllAndSync } from './atomicWrite.ts';

export interface OutputFile {
  path: string;
  data: Uint8Array;
}

export function writeFilesAtomic(files: readonly OutputFile[], opts: { overwrite?: boolean } = {}): void {
  const paths = files.map((f) => f.path);
  if (new Set(paths).size !== paths.length) throw new Error(`the same output path is given twice: ${paths.join(', ')}`);
  const temps: string[] = [];
  const published: string[] = [];
  const backups: [backup: string, path: string][] = [];
  try {
    for (const f of files) {
      const tmp = tempNameFor(f.path);
      temps.push(tmp);
      writeAllAndSync(tmp, f.data);
    }
    files.forEach((f, i) => {
      if (opts.overwrite) {
        if (existsSync(f.path)) {
          const backup = tempNameFor(f.path);
          linkSync(f.path, backup);
          backups.push([backup, f.path]);
        }
        renameSync(temps[i], f.path);
      } else {
        try {
          linkSync(temps[i], f.path);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new OutputExistsError(f.path);
          throw e;
        }
      }
      published.push(f.path);
    });
  } catch (e) {
    for (const p of published) rmSync(p, { force: true });
    for (const [backup, path] of backups) renameSync(backup, path);
    backups.length = 0;
    throw e;
  } finally {
    for (const t of temps) rmSync(t, { force: true });
    for (const [backup] of backups) rmSync(backup, { force: true });
  }
}
