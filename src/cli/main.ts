// `inkflow <command> [options]`: dispatches to the subcommands in ./commands.
import type { Command } from './command.ts';
import { reportError } from './errors.ts';
import { colorizeCommand } from './commands/colorize.ts';
import { generateCommand } from './commands/generate.ts';
import { runCommand } from './commands/run.ts';
import { serveCommand } from './commands/serve.ts';
import { trainCommand } from './commands/train.ts';
import { workerCommand } from './commands/worker.ts';
import { takeCacheOption } from './cacheOption.ts';
import { flushCompileCache } from '../runtime/session.ts';

const commands: Command[] = [colorizeCommand, generateCommand, runCommand, serveCommand, workerCommand, trainCommand];

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'inkflow — colour line art from a character sheet, generate and assemble comic panels',
    '',
    'usage: inkflow <command> [options]     (inkflow <command> --help for details)',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'every command: --cache DIR   compile cache folder (default INKFLOW_CACHE, else ~/.cache/inkflow/compiled),',
    '                             shared by the CLI, the server and workers',
  ].join('\n');
}

async function main(args: string[]): Promise<number> {
  const { argv, cacheDir } = takeCacheOption(args);
  // Through the environment, so the executor thread, workers and child processes use it too.
  if (cacheDir) process.env.INKFLOW_CACHE = cacheDir;
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    // `inkflow` alone is a usage error (exit 2, usage on stderr); asking for help is not.
    if (!name) {
      console.error(usage());
      return 2;
    }
    console.log(usage());
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    console.error(`inkflow: unknown command "${name}" — not one of ${commands.map((c) => c.name).join(', ')} (see inkflow --help)\n\n${usage()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.help);
    return 0;
  }
  return cmd.run(rest);
}

// A model compiled for the first time is still being written into the compile cache in the background
// (runtime/compileStaging.ts, runtime/deferredSave.ts): wait until that can go on without this process
// (a detached saver only needs to have taken over its files), or the next command would compile it again.
main(process.argv.slice(2)).then(
  async (code) => {
    await flushCompileCache();
    process.exit(code);
  },
  async (err: unknown) => {
    const code = reportError(err);
    await flushCompileCache();
    process.exit(code);
  },
);
