// A CLI subcommand: its name, a one-line summary for `inkflow --help`, full help text, and run().
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly help: string;
  run(argv: string[]): Promise<number>;
}

/** Thrown for bad arguments: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
