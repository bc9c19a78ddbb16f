// One error style for every command: `inkflow: <what> — <why> (<what to do>)` on one line, exit 2 for
// usage errors (bad or missing options, an output that would overwrite something), 1 for bad input
// files, models and runtime failures. A stack trace only with INKFLOW_DEBUG=1. Errors that are bugs
// (TypeError, RangeError, …) say so and ask for the trace instead of pretending to be the user's fault.
import { UsageError } from './command.ts';

export const EXIT_USAGE = 2;
export const EXIT_INPUT = 1;

/** Error classes that mean "our bug", not bad input. */
const BUG_NAMES = new Set(['TypeError', 'ReferenceError', 'RangeError', 'SyntaxError', 'AssertionError']);

/** Exit code for an error thrown by a command. */
export function exitCodeFor(err: unknown): number {
  return err instanceof UsageError ? EXIT_USAGE : EXIT_INPUT;
}

/** True for errors that come from a bug in inkflow rather than from the user's input. */
export function isInternalError(err: unknown): boolean {
  if (!(err instanceof Error)) return true;
  // Node's own argument errors (ERR_INVALID_ARG_TYPE …) are TypeErrors too: still bugs here.
  return BUG_NAMES.has(err.name) && !(err instanceof UsageError);
}

/** The message a user sees (without the `inkflow: ` prefix). */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return `internal error — ${String(err)} (rerun with INKFLOW_DEBUG=1 and report the output)`;
  const msg = err.message.replace(/\s+$/, '');
  if (isInternalError(err)) return `internal error — ${err.name}: ${msg} (rerun with INKFLOW_DEBUG=1 and report the stack trace)`;
  // A bare NaN/inf report from a pipeline without a stage error (the colorize pipelines): say what it means.
  if (err.name === 'NonFiniteError') return `${msg} — the model computed NaN/inf, so the image would be black (check the model file for damaged weights, or lower extreme settings)`;
  return msg;
}

/** Prints the error in the one style and returns the exit code. */
export function reportError(err: unknown, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`), debug = Boolean(process.env.INKFLOW_DEBUG)): number {
  write(`inkflow: ${describeError(err)}`);
  if (debug && err instanceof Error && err.stack) write(err.stack);
  return exitCodeFor(err);
}
