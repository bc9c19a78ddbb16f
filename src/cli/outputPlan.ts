// Output safety for every command, decided before any work starts: an output may never be one of the
// command's inputs (by path, symlink or hard link), an existing file is replaced only with --overwrite,
// and the output folder must be writable — so minutes of sampling are not lost at the end and nothing
// the user owns is destroyed. The files are then written together, atomically (files/atomicWriteAll).
import { realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { assertWritableDir } from '../files/atomicWrite.ts';
import { writeFilesAtomic } from '../files/atomicWriteAll.ts';
import { UsageError } from './command.ts';

export interface NamedInput {
  /** How the user gave it, e.g. "--lineart". */
  flag: string;
  path: string | undefined;
}

export interface OutputPlan {
  readonly paths: readonly string[];
  readonly overwrite: boolean;
}

function identity(path: string): { real: string; dev?: number; ino?: number } {
  const abs = resolve(path);
  try {
    const st = statSync(abs);
    return { real: realpathSync(abs), dev: st.dev, ino: st.ino };
  } catch {
    return { real: abs };
  }
}

const same = (a: ReturnType<typeof identity>, b: ReturnType<typeof identity>) => a.real === b.real || (a.ino !== undefined && a.dev === b.dev && a.ino === b.ino);

/** `out.png` with n images → out.png, out-2.png, … out-n.png. */
export function numberedOutputs(output: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => (i === 0 ? output : output.replace(/\.png$/i, `-${i + 1}.png`)));
}

/**
 * Checks the outputs against the inputs and the disk. Throws UsageError (exit 2) for an output that is
 * an input or exists without --overwrite, OutputFolderError (exit 1) for a folder that cannot be written.
 */
export function planOutputs(outputs: readonly string[], inputs: readonly NamedInput[], opts: { overwrite?: boolean } = {}): OutputPlan {
  const seen = new Map<string, string>();
  const ins = inputs.filter((i): i is NamedInput & { path: string } => Boolean(i.path)).map((i) => ({ ...i, id: identity(i.path) }));
  for (const out of outputs) {
    const id = identity(out);
    const prev = seen.get(id.real);
    if (prev !== undefined) throw new UsageError(`output ${out} — it is also the output ${prev} (choose another -o)`);
    seen.set(id.real, out);
    const clash = ins.find((i) => same(i.id, id));
    if (clash) throw new UsageError(`output ${out} — it is the ${clash.flag} input ${clash.path}; writing it would destroy the input (choose another -o)`);
    if (id.ino !== undefined && !opts.overwrite) throw new UsageError(`output ${out} — the file already exists (pass --overwrite to replace it, or choose another -o)`);
  }
  for (const dir of new Set(outputs.map((o) => dirname(resolve(o))))) assertWritableDir(dir);
  return { paths: outputs.map((o) => resolve(o)), overwrite: Boolean(opts.overwrite) };
}

/** Writes the planned files (same order as planned) all together, or none. */
export function writeOutputs(plan: OutputPlan, data: readonly Uint8Array[]): void {
  if (data.length !== plan.paths.length) throw new Error(`internal: ${data.length} outputs for ${plan.paths.length} planned paths`);
  writeFilesAtomic(plan.paths.map((path, i) => ({ path, data: data[i] })), { overwrite: plan.overwrite });
}
