// GET /object_info: every node's declaration in ComfyUI's shape (d_object_info_core.json), with the
// choice lists of model and image inputs read from the environment's folders at call time.
import type { WorkflowEnv } from './api.ts';
import { inputConfig, type NodeDef } from './nodeSpec.ts';
import { nodeRegistry } from './registry.ts';

export function nodeObjectInfo(def: NodeDef, env: WorkflowEnv): Record<string, unknown> {
  const section = (specs: NodeDef['required'] | undefined) => specs && Object.fromEntries(Object.entries(specs).map(([k, s]) => [k, inputConfig(s, env, def.v3)]));
  const input: Record<string, unknown> = { required: section(def.required) };
  const order: Record<string, string[]> = { required: Object.keys(def.required) };
  if (def.optional && Object.keys(def.optional).length) {
    input.optional = section(def.optional);
    order.optional = Object.keys(def.optional);
  }
  if (def.hidden) {
    input.hidden = { ...def.hidden };
    order.hidden = Object.keys(def.hidden);
  }
  const info: Record<string, unknown> = {
    input,
    input_order: order,
    output: def.outputs.map((o) => o.type),
    output_is_list: def.outputs.map(() => false),
    output_name: def.outputs.map((o) => o.name ?? o.type),
  };
  if (def.v3) info.output_tooltips = def.outputs.map((o) => o.tooltip ?? null);
  Object.assign(info, {
    name: def.name,
    display_name: def.displayName === undefined ? def.name : def.displayName,
    description: def.description ?? '',
    python_module: def.pythonModule ?? 'nodes',
    category: def.category,
    output_node: def.outputNode === true,
  });
  if (!def.v3 && def.outputs.some((o) => o.tooltip)) info.output_tooltips = def.outputs.map((o) => o.tooltip ?? '');
  if (def.v3) Object.assign(info, { deprecated: false, experimental: false, api_node: false });
  return info;
}

/** GET /object_info. */
export function objectInfo(env: WorkflowEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, def] of nodeRegistry()) out[name] = nodeObjectInfo(def, env);
  return out;
}

/** GET /object_info/{class}: `{class: info}`, or `{}` for an unknown class (as ComfyUI answers). */
export function objectInfoFor(env: WorkflowEnv, className: string): Record<string, unknown> {
  const def = nodeRegistry().get(className);
  return def ? { [className]: nodeObjectInfo(def, env) } : {};
}
