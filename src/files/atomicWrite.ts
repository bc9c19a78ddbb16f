// Outputs appear whole or not at all: bytes go to a hidden temporary file in the destination folder
// (same file system, so the final rename is atomic), are flushed, and only then take their name. A full
// disk or a crash leaves at most the temporary file, never a truncated image under the user's name.
import { closeSync, constants, fsyncSync, linkSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export class OutputExistsError extends Error {
  constructor(readonly path: string) {
    super(`${path} already exists (pass --overwrite to replace it)`);
    this.name = 'OutputExistsError';
  }
}

export class OutputFolderError extends Error {
  constructor(
    readonly dir: string,
    reason: string,
  ) {
    super(`cannot write to ${dir}: ${reason}`);
    this.name = 'OutputFolderError';
  }
}

/** A hidden temporary name beside `path` (same folder, so a rename onto `path` is atomic). */
export function tempNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Creates `path` (never replacing a file), writes all of `data` and flushes it to disk. */
export function writeAllAndSync(path: string, data: Uint8Array): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `data` to `path` atomically. With `overwrite: false` (the default) an existing file is never
 * replaced — the check and the publish are one step (a hard link fails if the name is taken), so two
 * writers racing for one name cannot clobber each other.
 */
export function writeFileAtomic(path: string, data: Uint8Array, opts: { overwrite?: boolean } = {}): void {
  const tmp = tempNameFor(path);
  try {
    writeAllAndSync(tmp, data);
    if (opts.overwrite) renameSync(tmp, path);
    else {
      try {
        linkSync(tmp, path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new OutputExistsError(path);
        throw e;
      }
    }
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Checks, before any long computation, that `dir` exists (creating it) and that a file can be created in
 * it, so minutes of sampling are not lost to a read-only or missing folder at the end.
 */
export function assertWritableDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new OutputFolderError(dir, (e as Error).message);
  }
  const probe = tempNameFor(join(dir, 'probe'));
  try {
    writeAllAndSync(probe, new Uint8Array(0));
  } catch (e) {
    throw new OutputFolderError(dir, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
  } finally {
    rmSync(probe, { force: true });
  }
}
