// CLI option checks read from the node declarations: the range, type and choices `--steps` or
// `--sampler` accept are the ones KSampler declares, so the CLI, the server and /object_info agree.
import { defaultOf, checkLiteral, inputSpec, isLink, type LiteralInput } from '../workflow/nodeSpec.ts';
import { nodeRegistry } from '../workflow/registry.ts';
import type { WorkflowEnv } from '../workflow/api.ts';
import { UsageError } from './command.ts';

const NO_ENV: WorkflowEnv = { inputDir: '', outputDir: '', tempDir: '', modelDirs: {}, limits: { maxImagePixels: 0, maxInputBytes: 0 } };

function literal(node: string, input: string): LiteralInput {
  const spec = inputSpec(nodeRegistry().get(node)!, input);
  if (!spec || isLink(spec)) throw new Error(`internal: ${node}.${input} is not a literal input`);
  return spec;
}

/** Checks an option's value against `node.input`'s declaration; a clear UsageError names the flag. */
export function checkNodeOption<T>(node: string, input: string, flag: string, value: T): T {
  const r = checkLiteral(literal(node, input), value, NO_ENV);
  if (r.ok) return value;
  const p = r.problem;
  const spec = literal(node, input);
  const range = 'min' in spec ? `[${spec.min}, ${spec.max}]` : '';
  switch (p.kind) {
    case 'below_min':
    case 'above_max': throw new UsageError(`--${flag} must be in ${range}, got ${String(value)}`);
    case 'not_in_list': throw new UsageError(`unknown ${flag} "${String(value)}"; one of: ${p.options.join(', ')}`);
    case 'conversion': throw new UsageError(`--${flag} must be a ${spec.type === 'INT' ? 'whole number' : spec.type.toLowerCase()}, got ${String(value)}`);
  }
}

/** The declared default of `node.input` (ComfyUI's). */
export function nodeDefault<T>(node: string, input: string): T {
  return defaultOf(nodeRegistry().get(node)!, input) as T;
}

/** The declared choices of a COMBO input. */
export function nodeChoices(node: string, input: string): string[] {
  const spec = literal(node, input);
  return spec.type === 'COMBO' && Array.isArray(spec.options) ? [...spec.options] : [];
}
