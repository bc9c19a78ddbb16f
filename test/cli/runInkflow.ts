// Runs the real `inkflow` binary as a child process from the repository root, with its compile cache in
// the test's own folder, and reports the exit code and output instead of throwing on a non-zero exit.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const REPO_ROOT = join(import.meta.dirname, '../..');

const run = promisify(execFile);

export interface InkflowRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function inkflowRunner(cacheDir: string): (...args: string[]) => Promise<InkflowRun> {
  return async (...args) => {
    try {
      const r = await run('node', [join(REPO_ROOT, 'bin/inkflow.js'), ...args], { cwd: REPO_ROOT, env: { ...process.env, INKFLOW_CACHE: cacheDir } });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as InkflowRun;
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
}
