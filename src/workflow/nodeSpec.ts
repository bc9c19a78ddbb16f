// A node is declared once, as data: its inputs (type, default, range, choices, tooltip), outputs,
// category and one function. Validation, defaults, /object_info, the CLI's option checks and the
// parsing of PNG metadata all read this declaration; range and choice checks are zod schemas built
// from it, after the Python-style conversion ComfyUI applies to a literal (int(), float(), str()).
import { z } from 'zod';
import type { ApiPrompt, ExecutionEvent, WorkflowEnv } from './api.ts';
import { pyBool, pyFloat, pyInt, PyConversionError } from './python.ts';

interface BaseInput {
  tooltip?: string;
  /** Further object_info options, printed between the range and the tooltip (e.g. control_after_generate). */
  extra?: Record<string, unknown>;
}

export interface IntInput extends BaseInput { type: 'INT'; default?: number; min?: number; max?: number; step?: number }
export interface FloatInput extends BaseInput { type: 'FLOAT'; default?: number; min?: number; max?: number; step?: number; round?: number | false }
export interface StringInput extends BaseInput { type: 'STRING'; default?: string; multiline?: boolean }
export interface BooleanInput extends BaseInput { type: 'BOOLEAN'; default?: boolean }
export interface ComboInput extends BaseInput {
  type: 'COMBO';
  /** Fixed choices, or a list read from the environment (model folders, input images). */
  options: readonly string[] | ((env: WorkflowEnv) => string[]);
  default?: string;
}
/** A value produced by another node (IMAGE, MASK, LATENT, MODEL, …). */
export interface LinkInput extends BaseInput { type: string; link: true }

export type InputSpec = IntInput | FloatInput | StringInput | BooleanInput | ComboInput | LinkInput;
export type LiteralInput = Exclude<InputSpec, LinkInput>;

export interface OutputSpec {
  type: string;
  name?: string;
  tooltip?: string;
}

export interface NodeContext {
  env: WorkflowEnv;
  signal: AbortSignal;
  nodeId: string;
  promptId: string;
  /** The prompt as it goes into saved PNGs (with `is_changed` where a node defines it). */
  prompt: ApiPrompt;
  extraPngInfo?: Record<string, unknown>;
  /** Reports step progress (ComfyUI `progress`), optionally with a preview image. */
  progress(value: number, max: number, preview?: { format: 'JPEG' | 'PNG'; bytes: Uint8Array }): void;
  emit(ev: ExecutionEvent): void;
  /** Models opened by loader nodes, kept across prompts until free({unloadModels}). */
  models: ModelStore;
}

export interface ModelStore {
  /** The model for `key`, opening it with `open` the first time. */
  get<T>(key: string, open: () => Promise<T> | T, release?: (m: T) => Promise<void> | void): Promise<T>;
}

export interface NodeResult {
  outputs: unknown[];
  /** What the node shows in the UI / history (SaveImage: `{images: […]}`). */
  ui?: Record<string, unknown>;
}

export interface NodeDef {
  name: string;
  /** object_info display_name (default: name). */
  displayName?: string | null;
  description?: string;
  category: string;
  pythonModule?: string;
  required: Record<string, InputSpec>;
  optional?: Record<string, InputSpec>;
  hidden?: Record<string, 'PROMPT' | 'EXTRA_PNGINFO' | 'UNIQUE_ID'>;
  outputs: readonly OutputSpec[];
  outputNode?: boolean;
  /** Declared in ComfyUI's newer (v3) schema: every input carries an options object, combos as COMBO. */
  v3?: boolean;
  /**
   * ComfyUI's VALIDATE_INPUTS: a message when the inputs it names are not acceptable (checked instead of
   * their range and choices), true otherwise.
   */
  validateInputs?: { inputs: readonly string[]; check(values: Record<string, unknown>, env: WorkflowEnv): true | string };
  /** ComfyUI's IS_CHANGED: a fingerprint of what the inputs point at (a file's hash), part of the cache key. */
  isChanged?(values: Record<string, unknown>, env: WorkflowEnv): string | undefined;
  run(values: Record<string, unknown>, ctx: NodeContext): Promise<NodeResult> | NodeResult;
}

export function isLink(spec: InputSpec): spec is LinkInput {
  return 'link' in spec;
}

export function inputSpec(def: NodeDef, name: string): InputSpec | undefined {
  return def.required[name] ?? def.optional?.[name];
}

/** The choices of a COMBO input in this environment. */
export function comboOptions(spec: ComboInput, env: WorkflowEnv): string[] {
  return typeof spec.options === 'function' ? spec.options(env) : [...spec.options];
}

/** object_info's options object for an input, in ComfyUI's key order. */
export function inputOptions(spec: InputSpec, env: WorkflowEnv, v3 = false): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (spec.type === 'COMBO' && v3) {
    o.multiselect = false;
    o.options = comboOptions(spec as ComboInput, env);
  }
  if ('default' in spec && spec.default !== undefined) o.default = spec.default;
  if ('min' in spec && spec.min !== undefined) o.min = spec.min;
  if ('max' in spec && spec.max !== undefined) o.max = spec.max;
  if ('step' in spec && spec.step !== undefined) o.step = spec.step;
  if ('round' in spec && spec.round !== undefined) o.round = spec.round;
  if ('multiline' in spec && spec.multiline !== undefined) o.multiline = spec.multiline;
  Object.assign(o, spec.extra);
  if (spec.tooltip) o.tooltip = spec.tooltip;
  return o;
}

/** object_info's entry for an input: `[type, options]`, `[type]` when it has none, `[[choices], …]` for combos. */
export function inputConfig(spec: InputSpec, env: WorkflowEnv, v3 = false): unknown[] {
  const opts = inputOptions(spec, env, v3);
  const head = spec.type === 'COMBO' && !v3 ? comboOptions(spec as ComboInput, env) : spec.type;
  return Object.keys(opts).length || v3 ? [head, opts] : [head];
}

/** The (type, options) pair ComfyUI puts in a validation error's `input_config`. */
export function validationInputConfig(spec: InputSpec, env: WorkflowEnv, v3 = false): unknown[] {
  const [head, opts] = inputConfig(spec, env, v3);
  return [head, opts ?? {}];
}

/** Python-style conversion of a literal to the input's type (int("12"), float("0.5"), str(3)). */
export function convertLiteral(spec: LiteralInput, value: unknown): unknown {
  switch (spec.type) {
    case 'INT': return pyInt(value);
    case 'FLOAT': return pyFloat(value);
    case 'STRING': return typeof value === 'string' ? value : String(value);
    case 'BOOLEAN': return pyBool(value);
    default: return value;
  }
}

/** The zod schema a converted literal must satisfy: range for numbers, membership for combos. */
// Built once per (input, environment): building a zod schema costs far more than checking a value with
// one, and every POST /prompt checks every literal input.
const schemas = new WeakMap<LiteralInput, WeakMap<WorkflowEnv, z.ZodType>>();

export function literalSchema(spec: LiteralInput, env: WorkflowEnv): z.ZodType {
  let byEnv = schemas.get(spec);
  if (!byEnv) schemas.set(spec, (byEnv = new WeakMap()));
  let schema = byEnv.get(env);
  if (!schema) byEnv.set(env, (schema = buildLiteralSchema(spec, env)));
  return schema;
}

function buildLiteralSchema(spec: LiteralInput, env: WorkflowEnv): z.ZodType {
  switch (spec.type) {
    case 'INT':
    case 'FLOAT': {
      let s = z.number();
      if (spec.min !== undefined) s = s.gte(spec.min);
      if (spec.max !== undefined) s = s.lte(spec.max);
      return z.preprocess((v) => (typeof v === 'bigint' ? Number(v) : v), s);
    }
    case 'COMBO': return z.unknown().refine((v) => comboOptions(spec, env).includes(v as string), { params: { kind: 'not_in_list' } });
    case 'STRING': return z.string();
    case 'BOOLEAN': return z.boolean();
  }
}

export type LiteralProblem =
  | { kind: 'conversion'; message: string }
  | { kind: 'below_min'; min: number }
  | { kind: 'above_max'; max: number }
  | { kind: 'not_in_list'; options: string[] };

/**
 * Converts and checks one literal input value. The one check shared by prompt validation, the CLI's
 * options and metadata read back from PNGs.
 */
export function checkLiteral(spec: LiteralInput, raw: unknown, env: WorkflowEnv): { ok: true; value: unknown } | { ok: false; problem: LiteralProblem } {
  let value: unknown;
  try {
    value = convertLiteral(spec, raw);
  } catch (e) {
    if (e instanceof PyConversionError) return { ok: false, problem: { kind: 'conversion', message: e.message } };
    throw e;
  }
  const r = literalSchema(spec, env).safeParse(value);
  if (r.success) return { ok: true, value };
  const issue = r.error.issues[0];
  if (issue.code === 'too_small' && 'min' in spec) return { ok: false, problem: { kind: 'below_min', min: spec.min! } };
  if (issue.code === 'too_big' && 'max' in spec) return { ok: false, problem: { kind: 'above_max', max: spec.max! } };
  if (spec.type === 'COMBO') return { ok: false, problem: { kind: 'not_in_list', options: comboOptions(spec, env) } };
  return { ok: false, problem: { kind: 'conversion', message: issue.message } };
}

/** A literal's declared default (for CLI options left out). */
export function defaultOf(def: NodeDef, name: string): unknown {
  const spec = inputSpec(def, name);
  return spec && 'default' in spec ? spec.default : undefined;
}
