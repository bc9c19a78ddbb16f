// Prompt validation with ComfyUI's answers, body for body (shared/comfyui-transcripts/
// b_malformed_prompts.json): the same error types, messages, details, `node_errors` layout, and the same
// quirks — a link to a missing node or output is reported on the *linked* node with the linking input's
// config, and a cycle fails with empty node_errors (ComfyUI's recursive validation ends in a
// RecursionError whose report is overwritten as the recursion unwinds).
import type { ApiPrompt, PromptErrorBody, ValidationResult, WorkflowEnv } from './api.ts';
import { checkLiteral, convertLiteral, inputSpec, isLink, validationInputConfig, type LiteralInput, type NodeDef } from './nodeSpec.ts';
import { pyFloatRepr, pyRepr, pyReprString, pyStr, PyConversionError } from './python.ts';
import { nodeRegistry } from './registry.ts';

export interface Reason {
  type: string;
  message: string;
  details: string;
  extra_info: Record<string, unknown>;
}

interface Verdict {
  ok: boolean;
  reasons: Reason[];
}

/** What Python raised inside validation: reported as exception_during_(inner_)validation. */
class PyException {
  constructor(
    readonly type: string,
    readonly message: string,
    readonly traceback: string[],
  ) {}
}

// ComfyUI 0.3.64's traceback lines for the two lookups that can raise (paths scrubbed as in the transcript).
const TB_RECURSE = '  File "<abs-path>", line 808, in validate_inputs\n    r = await validate_inputs(prompt_id, prompt, o_id, validated)\n        ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n';
const TB_OUTER = '  File "<abs-path>", line 1035, in validate_prompt\n    m = await validate_inputs(prompt_id, prompt, o, validated)\n        ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n';
const TB_NODE_LOOKUP = '  File "<abs-path>", line 788, in validate_inputs\n    o_class_type = prompt[o_id][\'class_type\']\n                   ~~~~~~^^^^^^\n';
const TB_OUTPUT_LOOKUP = '  File "<abs-path>", line 790, in validate_inputs\n    received_type = r[val[1]]\n                    ~^^^^^^^^\n';

function errorBody(type: string, message: string, details: string, node_errors: Record<string, unknown> = {}): PromptErrorBody {
  return { error: { type, message, details, extra_info: {} }, node_errors };
}

/** Does an output of type `received` fit an input of type `wanted`? ("*" fits all; "A,B" unions). */
export function typesMatch(received: string, wanted: string): boolean {
  if (received === '*' || wanted === '*' || received === wanted) return true;
  const r = received.split(',').map((s) => s.trim());
  const w = new Set(wanted.split(',').map((s) => s.trim()));
  return r.every((t) => w.has(t));
}

function formatNumber(spec: LiteralInput, v: unknown): string {
  if (spec.type === 'FLOAT' && typeof v === 'number') return pyFloatRepr(v);
  return pyStr(v);
}

function literalReasons(def: NodeDef, name: string, spec: LiteralInput, val: unknown, env: WorkflowEnv): Reason[] {
  const info = validationInputConfig(spec, env, def.v3);
  let value: unknown;
  try {
    value = convertLiteral(spec, val);
  } catch (e) {
    if (!(e instanceof PyConversionError)) throw e;
    return [{
      type: 'invalid_input_type',
      message: `Failed to convert an input value to a ${spec.type} value`,
      details: `${name}, ${pyStr(val)}, ${e.message}`,
      extra_info: { input_name: name, input_config: info, received_value: val, exception_message: e.message },
    }];
  }
  if (def.validateInputs?.inputs.includes(name)) return [];
  const r = checkLiteral(spec, value, env);
  if (r.ok) return [];
  const p = r.problem;
  const base = { input_name: name, input_config: info, received_value: value };
  switch (p.kind) {
    case 'below_min':
      return [{ type: 'value_smaller_than_min', message: `Value ${formatNumber(spec, value)} smaller than min of ${formatNumber(spec, p.min)}`, details: name, extra_info: base }];
    case 'above_max':
      return [{ type: 'value_bigger_than_max', message: `Value ${formatNumber(spec, value)} bigger than max of ${formatNumber(spec, p.max)}`, details: name, extra_info: base }];
    case 'not_in_list': {
      // ComfyUI leaves long lists (scanned model files) out of the answer.
      const long = p.options.length > 20;
      const listInfo = long ? `(list of length ${p.options.length})` : `[${p.options.map(pyReprString).join(', ')}]`;
      return [{ type: 'value_not_in_list', message: 'Value not in list', details: `${name}: '${pyStr(value)}' not in ${listInfo}`, extra_info: { ...base, input_config: long ? null : info } }];
    }
    case 'conversion':
      return [{ type: 'invalid_input_type', message: `Failed to convert an input value to a ${spec.type} value`, details: `${name}, ${pyStr(val)}, ${p.message}`, extra_info: { ...base, exception_message: p.message } }];
  }
}

function validateNode(prompt: ApiPrompt, id: string, validated: Map<string, Verdict>, stack: Set<string>, env: WorkflowEnv, registry: ReadonlyMap<string, NodeDef>): Verdict {
  const known = validated.get(id);
  if (known) return known;
  if (stack.has(id)) throw new PyException('RecursionError', 'maximum recursion depth exceeded', [TB_RECURSE]);
  stack.add(id);
  try {
    const node = prompt[id];
    const def = registry.get(node.class_type)!;
    const inputs = (node.inputs && typeof node.inputs === 'object' ? node.inputs : {}) as Record<string, unknown>;
    const errors: Reason[] = [];
    let valid = true;
    const names = [...Object.keys(def.required), ...Object.keys(def.optional ?? {})];
    for (const name of names) {
      const spec = inputSpec(def, name)!;
      if (!(name in inputs)) {
        if (name in def.required) {
          errors.push({ type: 'required_input_missing', message: 'Required input is missing', details: name, extra_info: { input_name: name } });
          valid = false;
        }
        continue;
      }
      const val = inputs[name];
      const info = validationInputConfig(spec, env, def.v3);
      if (Array.isArray(val)) {
        if (val.length !== 2) {
          errors.push({ type: 'bad_linked_input', message: 'Bad linked input, must be a length-2 list of [node_id, slot_index]', details: name, extra_info: { input_name: name, input_config: info, received_value: val } });
          valid = false;
          continue;
        }
        const [oId, slot] = val as [unknown, unknown];
        // prompt[o_id]: ids are strings, so a numeric id raises KeyError like a missing one.
        if (typeof oId !== 'string' || !Object.hasOwn(prompt, oId)) throw new PyException('KeyError', pyRepr(oId), [TB_NODE_LOOKUP]);
        const oDef = registry.get(prompt[oId].class_type)!;
        if (typeof slot !== 'number' || !Number.isInteger(slot)) throw new PyException('TypeError', `tuple indices must be integers or slices, not ${typeof slot === 'number' ? 'float' : typeof slot === 'string' ? 'str' : 'NoneType'}`, [TB_OUTPUT_LOOKUP]);
        const out = oDef.outputs.at(slot);
        if (!out || slot >= oDef.outputs.length || slot < -oDef.outputs.length) throw new PyException('IndexError', 'tuple index out of range', [TB_OUTPUT_LOOKUP]);
        if (!typesMatch(out.type, spec.type)) {
          errors.push({
            type: 'return_type_mismatch', message: 'Return type mismatch between linked nodes',
            details: `${name}, received_type(${out.type}) mismatch input_type(${spec.type})`,
            extra_info: { input_name: name, input_config: info, received_type: out.type, linked_node: val },
          });
          valid = false;
          continue;
        }
        try {
          if (!validateNode(prompt, oId, validated, stack, env, registry).ok) valid = false;
        } catch (ex) {
          if (!(ex instanceof PyException)) throw ex;
          valid = false;
          validated.set(oId, {
            ok: false,
            reasons: [{
              type: 'exception_during_inner_validation', message: 'Exception when validating inner node', details: ex.message,
              extra_info: { input_name: name, input_config: info, exception_message: ex.message, exception_type: ex.type, traceback: [TB_RECURSE, ...ex.traceback], linked_node: val },
            }],
          });
        }
        continue;
      }
      if (isLink(spec)) continue; // ComfyUI accepts a literal for a link type here; the executor refuses it
      const rs = literalReasons(def, name, spec, val, env);
      if (rs.length) {
        errors.push(...rs);
        valid = false;
      }
    }
    const custom = def.validateInputs;
    if (custom && custom.inputs.every((n) => n in inputs && !Array.isArray(inputs[n]))) {
      const values = Object.fromEntries(custom.inputs.map((n) => [n, inputs[n]]));
      const r = custom.check(values, env);
      if (r !== true) {
        // ComfyUI names the input with the loop variable left over from the input loop: the last one.
        const x = names[names.length - 1];
        errors.push({ type: 'custom_validation_failed', message: 'Custom validation failed for node', details: `${x} - ${r}`, extra_info: { input_name: x } });
      }
    }
    const verdict: Verdict = errors.length || !valid ? { ok: false, reasons: errors } : { ok: true, reasons: [] };
    validated.set(id, verdict);
    return verdict;
  } finally {
    stack.delete(id);
  }
}

/** Validates a prompt as ComfyUI's POST /prompt does; the failure body is what ComfyUI answers with 400. */
export function validatePrompt(prompt: unknown, env: WorkflowEnv, registry: ReadonlyMap<string, NodeDef> = nodeRegistry()): ValidationResult {
  if (prompt === null || typeof prompt !== 'object') {
    return { ok: false, body: errorBody('invalid_prompt', 'Cannot execute because the prompt is not a JSON object.', '') };
  }
  const p = (Array.isArray(prompt) ? {} : prompt) as ApiPrompt;
  const outputs: string[] = [];
  for (const id of Object.keys(p)) {
    const node = p[id] as unknown;
    if (!node || typeof node !== 'object' || !('class_type' in node)) {
      return { ok: false, body: errorBody('invalid_prompt', 'Cannot execute because a node is missing the class_type property.', `Node ID '#${id}'`) };
    }
    const classType = (node as { class_type: unknown }).class_type;
    const def = typeof classType === 'string' ? registry.get(classType) : undefined;
    if (!def) return { ok: false, body: errorBody('invalid_prompt', `Cannot execute because node ${pyStr(classType)} does not exist.`, `Node ID '#${id}'`) };
    if (def.outputNode) outputs.push(id);
  }
  if (!outputs.length) return { ok: false, body: errorBody('prompt_no_outputs', 'Prompt has no outputs', '') };

  const validated = new Map<string, Verdict>();
  const good: string[] = [];
  const failed: [string, Reason[]][] = [];
  const nodeErrors: Record<string, { errors: Reason[]; dependent_outputs: string[]; class_type: string }> = {};
  for (const o of outputs) {
    let verdict: Verdict;
    try {
      verdict = validateNode(p, o, validated, new Set(), env, registry);
    } catch (ex) {
      if (!(ex instanceof PyException)) throw ex;
      verdict = { ok: false, reasons: [{ type: 'exception_during_validation', message: 'Exception when validating node', details: ex.message, extra_info: { exception_type: ex.type, traceback: [TB_OUTER, ...ex.traceback] } }] };
      validated.set(o, verdict);
    }
    if (verdict.ok) {
      good.push(o);
      continue;
    }
    if (verdict.reasons.length) failed.push([o, verdict.reasons]);
    for (const [id, v] of validated) {
      if (v.ok || !v.reasons.length) continue;
      nodeErrors[id] ??= { errors: v.reasons, dependent_outputs: [], class_type: p[id].class_type };
      nodeErrors[id].dependent_outputs.push(o);
    }
  }
  if (!good.length) {
    const details = failed.flatMap(([, rs]) => rs.map((r) => `${r.message}: ${r.details}`)).join('\n');
    return { ok: false, body: errorBody('prompt_outputs_failed_validation', 'Prompt outputs failed validation', details, nodeErrors) };
  }
  return { ok: true, outputs: good, node_errors: nodeErrors };
}

export interface Envelope {
  prompt: unknown;
  extraData: Record<string, unknown>;
  clientId?: string;
  number?: number;
  front?: boolean;
  /** Output node ids to run (ComfyUI's partial_execution_targets), when given. */
  partialExecutionTargets?: string[];
}

/**
 * POST /prompt's body before the prompt itself is validated: `{prompt, client_id?, extra_data?, number?,
 * front?}`. A missing prompt is ComfyUI's `no_prompt` 400; a prompt that is not an object goes on to
 * validatePrompt (a list is "Prompt has no outputs", as in ComfyUI). Invalid JSON never gets here: ComfyUI
 * answers it with a plain-text 500.
 */
export function validateEnvelope(body: unknown): { ok: true; envelope: Envelope } | { ok: false; body: PromptErrorBody } {
  if (!body || typeof body !== 'object' || Array.isArray(body) || !('prompt' in body)) {
    return { ok: false, body: errorBody('no_prompt', 'No prompt provided', 'No prompt provided') };
  }
  const b = body as Record<string, unknown>;
  const extraData = b.extra_data && typeof b.extra_data === 'object' && !Array.isArray(b.extra_data) ? { ...(b.extra_data as Record<string, unknown>) } : {};
  const envelope: Envelope = { prompt: b.prompt, extraData };
  if (typeof b.client_id === 'string') {
    envelope.clientId = b.client_id;
    extraData.client_id = b.client_id;
  }
  if (typeof b.number === 'number') envelope.number = b.number;
  if (b.front === true) envelope.front = true;
  if (Array.isArray(b.partial_execution_targets)) envelope.partialExecutionTargets = b.partial_execution_targets.map(String);
  return { ok: true, envelope };
}
