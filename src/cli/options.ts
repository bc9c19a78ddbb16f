// Option parsing shared by every command, so they agree: an unknown option, a missing value or a bad
// number is a usage error (exit 2) with the command's name, and seeds are the full ComfyUI range
// 0 … 2^64−1 everywhere (as BigInt: 2^53 and above do not survive a JS number).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './command.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs (strict, no positionals) with its errors turned into usage errors. */
export function parseOptions<T extends Options>(command: string, argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/s, '').replace(/\.$/, '');
    throw new UsageError(`${command}: ${msg} (see inkflow ${command} --help)`);
  }
}

export const MAX_SEED = 2n ** 64n - 1n;

/** A seed in 0 … 2^64−1, as ComfyUI accepts: decimal digits only. */
export function parseSeed(text: string, flag = '--seed'): bigint {
  const t = text.trim();
  if (!/^\d+$/.test(t) || BigInt(t) > MAX_SEED) throw new UsageError(`${flag} must be an integer in 0 … 2^64−1 (18446744073709551615), got "${text}"`);
  return BigInt(t);
}

/** An optional numeric option from parseOptions' values: a usage error unless it is a (whole) number. */
export function optionalNumber(values: Record<string, unknown>, name: string, integer = false): number | undefined {
  const v = values[name] as string | undefined;
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || (integer && !Number.isInteger(x))) throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'}, got "${v}"`);
  return x;
}
