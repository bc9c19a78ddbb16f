// `--cache DIR`, accepted by every command: the compile cache folder. The CLI, `inkflow serve` (and its
// executor thread) and `inkflow worker` processes all read the one default — INKFLOW_CACHE, else
// ~/.cache/inkflow/compiled — so a model compiled by one is opened from the cache by the others; the option
// sets INKFLOW_CACHE for this process and everything it starts. Entries appear by atomic rename, so
// processes compiling the same model at once each finish and one entry stays.
import { resolve } from 'node:path';
import { UsageError } from './command.ts';

/** argv without `--cache DIR` / `--cache=DIR`, and the folder it named (absolute). */
export function takeCacheOption(argv: readonly string[]): { argv: string[]; cacheDir?: string } {
  const rest: string[] = [];
  let cacheDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    let value: string | undefined;
    if (a === '--cache') {
      value = argv[++i];
      if (value === undefined || value.startsWith('--')) throw new UsageError('--cache needs a folder (the compile cache, shared by the CLI, the server and workers)');
    } else if (a.startsWith('--cache=')) {
      value = a.slice('--cache='.length);
      if (value === '') throw new UsageError('--cache needs a folder (the compile cache, shared by the CLI, the server and workers)');
    } else {
      rest.push(a);
      continue;
    }
    cacheDir = resolve(value);
  }
  return { argv: rest, cacheDir };
}
