// Every file name that arrives from a user (a prompt's checkpoint name, `/view?filename=`, an upload's
// subfolder, a `<lora:NAME>` tag) is resolved here, against the one folder it may live in. Lexical checks
// catch `..`, absolute and drive paths; the realpath check catches a symlink inside the folder that
// points out of it.
import { realpathSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';

export class UnsafePathError extends Error {
  constructor(
    readonly name_: string,
    readonly root: string,
    readonly reason: string,
  ) {
    super(`unsafe file name ${JSON.stringify(name_)}: ${reason} (names must stay inside ${root})`);
    this.name = 'UnsafePathError';
  }
}

/** True when `child` (absolute, normalised) is `parent` itself or lies below it. */
export function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && rel.split(sep)[0] !== '..');
}

/** Lexical checks only: no NUL, no absolute or drive path, no `..` segment, no empty name. */
export function checkRelativeName(name: string, root: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new UnsafePathError(String(name), root, 'empty name');
  if (name.includes('\0')) throw new UnsafePathError(name, root, 'contains a NUL byte');
  if (isAbsolute(name) || /^[a-zA-Z]:/.test(name) || name.startsWith('\\') || name.startsWith('/')) {
    throw new UnsafePathError(name, root, 'absolute paths are not allowed');
  }
  if (name.split(/[\\/]+/).some((seg) => seg === '..')) throw new UnsafePathError(name, root, '".." is not allowed');
}

/**
 * The absolute path of `name` (which may hold subfolders, `a/b.png`) inside `root`. Throws UnsafePathError
 * when the name leaves the folder lexically, or — when the file or any parent already exists — through a
 * symlink. A name that does not exist yet resolves as long as its existing ancestors stay inside.
 */
export function resolveInside(root: string, name: string): string {
  checkRelativeName(name, root);
  const absRoot = resolve(root);
  const target = resolve(absRoot, name);
  if (!isInside(absRoot, target)) throw new UnsafePathError(name, root, 'it leaves the folder');
  let realRoot: string;
  try {
    realRoot = realpathSync(absRoot);
  } catch {
    return target; // the folder does not exist yet: nothing inside it can be a symlink
  }
  // Walk up to the deepest existing ancestor and check that its real location is still inside.
  let probe = target;
  for (;;) {
    try {
      const real = realpathSync(probe);
      if (!isInside(realRoot, real)) throw new UnsafePathError(name, root, 'a symlink points out of the folder');
      return real === probe ? target : join(real, relative(probe, target));
    } catch (e) {
      if (e instanceof UnsafePathError) throw e;
      const parent = resolve(probe, '..');
      if (parent === probe || !isInside(absRoot, parent)) return target;
      probe = parent;
    }
  }
}
