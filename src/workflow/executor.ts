// Runs validated API prompts: only the nodes the output nodes need, dependencies first, each node's
// outputs cached across prompts under a signature of its class, inputs and upstream signatures (a
// resubmitted prompt runs nothing and reports every node in execution_cached, as ComfyUI does). Events
// are ComfyUI's WebSocket messages; an abort stops at the next node or sampler step
// (execution_interrupted); a failing node reports execution_error and leaves the executor usable.
import { createHash } from 'node:crypto';
import type { ApiPrompt, ExecutionEvent, Executor, ExecutionHooks, Job, JobOutcome, WorkflowEnv } from './api.ts';
import { convertLiteral, isLink, inputSpec, type ModelStore, type NodeContext, type NodeDef, type NodeResult } from './nodeSpec.ts';
import { nodeRegistry } from './registry.ts';
import { validatePrompt } from './validate.ts';
import { describeValue } from './values.ts';

interface CacheEntry {
  outputs: unknown[];
  ui?: Record<string, unknown>;
}

class DependencyCycleError extends Error {
  override name = 'dependency_cycle';
}

/** Output nodes' dependencies first (depth first, in prompt order), each node once. */
export function executionOrder(prompt: ApiPrompt, outputs: readonly string[]): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string) => {
    const s = state.get(id);
    if (s === 'done') return;
    if (s === 'visiting') throw new DependencyCycleError(`Dependency cycle detected at node ${id}`);
    state.set(id, 'visiting');
    for (const v of Object.values(prompt[id].inputs ?? {})) if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && prompt[v[0]]) visit(v[0]);
    state.set(id, 'done');
    order.push(id);
  };
  for (const o of outputs) visit(o);
  return order;
}

function signatures(prompt: ApiPrompt, order: readonly string[], isChanged: Map<string, string | undefined>): Map<string, string> {
  const sig = new Map<string, string>();
  for (const id of order) {
    const inputs = prompt[id].inputs ?? {};
    const parts = Object.keys(inputs).sort().map((k) => {
      const v = inputs[k];
      return [k, Array.isArray(v) && v.length === 2 && sig.has(String(v[0])) ? ['link', sig.get(String(v[0])), v[1]] : ['value', v]];
    });
    const text = JSON.stringify([prompt[id].class_type, isChanged.get(id) ?? null, parts], (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
    sig.set(id, createHash('sha256').update(text).digest('hex'));
  }
  return sig;
}

function formatInput(v: unknown): unknown {
  return v === null || ['string', 'number', 'boolean'].includes(typeof v) ? v : describeValue(v);
}

function createModelStore(): ModelStore & { releaseAll(): Promise<void> } {
  const models = new Map<string, { value: Promise<unknown>; release?: (m: unknown) => Promise<void> | void }>();
  return {
    async get<T>(key: string, open: () => Promise<T> | T, release?: (m: T) => Promise<void> | void): Promise<T> {
      let entry = models.get(key);
      if (!entry) {
        entry = { value: Promise.resolve().then(open), release: release as (m: unknown) => Promise<void> | void };
        models.set(key, entry);
        entry.value.catch(() => models.delete(key));
      }
      return entry.value as Promise<T>;
    },
    async releaseAll() {
      const all = [...models.values()];
      models.clear();
      for (const m of all) {
        try {
          const v = await m.value;
          await m.release?.(v);
        } catch {
          // a model that failed to open has nothing to release
        }
      }
    },
  };
}

export function createExecutor(env: WorkflowEnv, registry: ReadonlyMap<string, NodeDef> = nodeRegistry()): Executor {
  let cache = new Map<string, CacheEntry>();
  const models = createModelStore();
  let queue: Promise<unknown> = Promise.resolve();

  async function runJob(job: Job, hooks: ExecutionHooks): Promise<JobOutcome> {
    const promptId = job.promptId;
    const messages: [string, Record<string, unknown>][] = [];
    const send = (type: Exclude<ExecutionEvent['type'], 'preview'>, data: Record<string, unknown>, keep = false) => {
      hooks.emit({ type, data } as ExecutionEvent);
      if (keep) messages.push([type, data]);
    };
    const outputs: JobOutcome['outputs'] = {};
    const meta: JobOutcome['meta'] = {};
    const executed: string[] = [];
    const values = new Map<string, unknown[]>();
    const progressState: Record<string, Record<string, unknown>> = {};
    const setState = (id: string, value: number, max: number, state: 'running' | 'finished') => {
      progressState[id] = { value, max, state, node_id: id, prompt_id: promptId, display_node_id: id, parent_node_id: null, real_node_id: id };
      send('progress_state', { prompt_id: promptId, nodes: structuredClone(progressState) });
    };
    const fail = (nodeId: string, nodeType: string, e: unknown, inputs: Record<string, unknown>): JobOutcome => {
      const err = e instanceof Error ? e : new Error(String(e));
      send('execution_error', {
        prompt_id: promptId, node_id: nodeId, node_type: nodeType, executed: [...executed],
        exception_message: err.message, exception_type: err.name === 'Error' ? 'Exception' : err.name,
        traceback: (err.stack ?? '').split('\n').slice(1).map((l) => `${l.trim()}\n`),
        current_inputs: Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, [formatInput(v)]])),
        current_outputs: [...values.keys()],
        timestamp: Date.now(),
      }, true);
      return { status: 'error', outputs, messages, meta };
    };

    send('execution_start', { prompt_id: promptId, timestamp: Date.now() }, true);
    const prompt = job.prompt;
    const verdict = validatePrompt(prompt, env, registry);
    if (!verdict.ok) {
      send('execution_cached', { nodes: [], prompt_id: promptId, timestamp: Date.now() }, true);
      const { error, node_errors } = verdict.body;
      const perNode = Object.entries(node_errors as Record<string, { class_type: string; errors: { message: string; details: string }[] }>)
        .map(([id, n]) => `${n.class_type} ${id}: ${n.errors.map((r) => `${r.message}: ${r.details}`).join('; ')}`);
      const e = Object.assign(new Error([`${error.message}${error.details ? `: ${error.details}` : ''}`, ...perNode].join('\n')), { name: error.type });
      return fail('', '', e, {});
    }
    let order: string[];
    try {
      order = executionOrder(prompt, verdict.outputs);
    } catch (e) {
      send('execution_cached', { nodes: [], prompt_id: promptId, timestamp: Date.now() }, true);
      return fail('', '', e, {});
    }

    // Cache keys, and the prompt as saved into PNGs (ComfyUI adds each node's is_changed to it).
    const isChanged = new Map<string, string | undefined>();
    const pngPrompt: ApiPrompt = structuredClone(prompt);
    for (const id of order) {
      const def = registry.get(prompt[id].class_type)!;
      if (!def.isChanged) continue;
      const h = def.isChanged(prompt[id].inputs ?? {}, env);
      isChanged.set(id, h);
      if (h !== undefined) (pngPrompt[id] as Record<string, unknown>).is_changed = [h];
    }
    const sig = signatures(prompt, order, isChanged);
    const cachedIds = Object.keys(prompt).filter((id) => sig.has(id) && cache.has(sig.get(id)!));
    send('execution_cached', { nodes: cachedIds, prompt_id: promptId, timestamp: Date.now() }, true);

    const used = new Map<string, CacheEntry>();
    const showUi = (id: string, ui: Record<string, unknown>) => {
      send('executed', { node: id, display_node: id, output: ui, prompt_id: promptId });
      outputs[id] = ui;
      meta[id] = { node_id: id, display_node: id, parent_node: null, real_node_id: id };
    };
    const extraPngInfo = job.extraData?.extra_pnginfo as Record<string, unknown> | undefined;

    for (const id of order) {
      const node = prompt[id];
      const def = registry.get(node.class_type)!;
      const key = sig.get(id)!;
      const hit = cache.get(key);
      if (hit) {
        values.set(id, hit.outputs);
        used.set(key, hit);
        if (hit.ui) {
          showUi(id, hit.ui);
          setState(id, 1, 1, 'finished');
        }
        continue;
      }
      const interrupted = (): JobOutcome => {
        send('execution_interrupted', { prompt_id: promptId, node_id: id, node_type: node.class_type, executed: [...executed], timestamp: Date.now() }, true);
        return { status: 'interrupted', outputs, messages, meta };
      };
      if (hooks.signal.aborted) return interrupted();
      setState(id, 0, 1, 'running');
      send('executing', { node: id, display_node: id, prompt_id: promptId });

      const inputs: Record<string, unknown> = {};
      let result: NodeResult;
      try {
        for (const [name, raw] of Object.entries(node.inputs ?? {})) {
          const spec = inputSpec(def, name);
          if (!spec) continue;
          if (Array.isArray(raw)) {
            const up = values.get(String(raw[0]));
            if (!up) throw new Error(`input ${name}: node ${String(raw[0])} produced no value`);
            inputs[name] = up.at(Number(raw[1]));
          } else if (isLink(spec)) {
            throw new TypeError(`input ${name} needs a link to a node's ${spec.type} output, got the literal ${JSON.stringify(raw)}`);
          } else inputs[name] = convertLiteral(spec, raw);
        }
        const ctx: NodeContext = {
          env, signal: hooks.signal, nodeId: id, promptId, prompt: pngPrompt, extraPngInfo, models,
          emit: hooks.emit,
          progress(value, max, preview) {
            send('progress', { value, max, prompt_id: promptId, node: id });
            setState(id, value, max, 'running');
            if (preview) hooks.emit({ type: 'preview', format: preview.format, bytes: preview.bytes });
          },
        };
        result = await def.run(inputs, ctx);
      } catch (e) {
        if (hooks.signal.aborted) return interrupted();
        return fail(id, node.class_type, e, inputs);
      }
      const entry: CacheEntry = { outputs: result.outputs, ui: result.ui };
      cache.set(key, entry);
      used.set(key, entry);
      values.set(id, result.outputs);
      executed.push(id);
      if (result.ui) showUi(id, result.ui);
      setState(id, 1, 1, 'finished');
    }
    send('execution_success', { prompt_id: promptId, timestamp: Date.now() }, true);
    // ComfyUI's classic cache: what the last prompt used stays, the rest is dropped (memory stays bounded).
    cache = used;
    return { status: 'success', outputs, messages, meta };
  }

  return {
    run(job, hooks) {
      // One job at a time: nodes share models and the cache.
      const next = queue.then(() => runJob(job, hooks));
      queue = next.catch(() => undefined);
      return next;
    },
    free(opts) {
      if (opts.freeMemory) cache = new Map();
      if (opts.unloadModels) void models.releaseAll();
    },
  };
}
