// `inkflow <command> [options]`: dispatches to the subcommands in ./commands.
import type { Command } from './command.ts';
import { UsageError } from './command.ts';
import { colorizeCommand } from './commands/colorize.ts';
import { generateCommand } from './commands/generate.ts';
import { runCommand } from './commands/run.ts';
import { serveCommand } from './commands/serve.ts';
import { workerCommand } from './commands/worker.ts';

const commands: Command[] = [colorizeCommand, generateCommand, runCommand, serveCommand, workerCommand];

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'inkflow — colour line art from a character sheet, generate and assemble comic panels',
    '',
    'usage: inkflow <command> [options]     (inkflow <command> --help for details)',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 1;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    console.error(`inkflow: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.help);
    return 0;
  }
  return cmd.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    if (err instanceof UsageError) console.error(`inkflow: ${err.message}`);
    else console.error(`inkflow: ${err.name === 'Error' ? '' : `${err.name}: `}${err.message}`);
    if (process.env.INKFLOW_DEBUG) console.error(err.stack);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
