// Runs a workflow for a CLI command: validation errors as one readable message, a progress bar per
// sampling node on stderr, Ctrl-C as an interrupt, and the saved files' paths back.
import { join } from 'node:path';
import type { LoraReport } from '../weights/lora.ts';
import type { ApiPrompt, ExecutionEvent, WorkflowEnv } from '../workflow/api.ts';
import { createExecutor } from '../workflow/executor.ts';
import { validatePrompt } from '../workflow/validate.ts';
import { progressBar, type ProgressBar } from './progress.ts';

export class WorkflowRunError extends Error {
  override name = 'WorkflowRunError';
}

export interface CliRunResult {
  status: 'success' | 'interrupted';
  /** Absolute paths of the images the output nodes saved, in output-node order. */
  files: string[];
  /** Per node id: the files it saved and its UI output (settings, warnings, …). */
  outputs: Record<string, { files: string[]; ui: Record<string, unknown> }>;
}

function nodeErrorLines(nodeErrors: Record<string, unknown>, prompt: ApiPrompt): string[] {
  return Object.entries(nodeErrors as Record<string, { errors: { message: string; details: string }[] }>).flatMap(([id, n]) =>
    n.errors.map((e) => `  node ${id} (${prompt[id]?.class_type}): ${e.message}${e.details ? ` — ${e.details}` : ''}`));
}

export async function runCliWorkflow(
  prompt: ApiPrompt,
  env: WorkflowEnv,
  /** quietNodes: a command's own small workflow — no per-node lines, and a failing node's message alone. */
  opts: { label: string; extraPngInfo?: Record<string, unknown>; quietNodes?: boolean },
): Promise<CliRunResult> {
  const verdict = validatePrompt(prompt, env);
  if (!verdict.ok) {
    const { error, node_errors } = verdict.body;
    throw new WorkflowRunError([`${opts.label}: ${error.message}${error.details ? ` — ${error.details}` : ''}`, ...nodeErrorLines(node_errors, prompt)].join('\n'));
  }
  for (const line of nodeErrorLines(verdict.node_errors, prompt)) process.stderr.write(`skipped output:${line}\n`);
  const executor = createExecutor(env);
  const ac = new AbortController();
  const onSigint = () => ac.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  let bar: ProgressBar | undefined;
  let failure: Record<string, unknown> | undefined;
  const emit = (ev: ExecutionEvent) => {
    if (ev.type === 'executing') {
      bar?.done();
      bar = undefined;
      const id = String(ev.data.node);
      if (!opts.quietNodes) process.stderr.write(`node ${id} ${prompt[id]?.class_type ?? ''}\n`);
    } else if (ev.type === 'progress') {
      const { value, max, node } = ev.data as { value: number; max: number; node: string };
      bar ??= progressBar(`${prompt[node]?.class_type ?? node}`, max);
      bar.update(value);
    } else if (ev.type === 'execution_error') failure = ev.data;
  };
  let outcome;
  try {
    outcome = await executor.run({ promptId: 'cli', prompt, extraData: opts.extraPngInfo ? { extra_pnginfo: opts.extraPngInfo } : {} }, { signal: ac.signal, emit });
  } finally {
    process.off('SIGINT', onSigint);
    bar?.done();
    executor.free({ unloadModels: true, freeMemory: true });
  }
  if (outcome.status === 'error') {
    const f = failure ?? {};
    const err = new WorkflowRunError(opts.quietNodes ? String(f.exception_message) : `${opts.label}: node ${String(f.node_id)} (${String(f.node_type)}) failed — ${String(f.exception_message)}`);
    // A bare NaN/inf report keeps its kind, so the error line explains it as for a direct pipeline call.
    if (f.exception_type === 'NonFiniteError') err.name = 'NonFiniteError';
    throw err;
  }
  const files: string[] = [];
  const outputs: CliRunResult['outputs'] = {};
  for (const [id, ui] of Object.entries(outcome.outputs)) {
    const saved = ((ui.images as { filename: string; subfolder: string; type: string }[] | undefined) ?? [])
      .map((img) => join(img.type === 'temp' ? env.tempDir : env.outputDir, img.subfolder, img.filename));
    files.push(...saved);
    outputs[id] = { files: saved, ui };
  }
  return { status: outcome.status === 'interrupted' ? 'interrupted' : 'success', files, outputs };
}

export interface LoraSummary {
  applied: { path: string }[];
  unet?: LoraReport;
  text?: LoraReport;
}

/** The LoRA reports the sampler and text-encoder nodes returned, merged for one summary. */
export function collectLoraReport(outputs: CliRunResult['outputs']): LoraSummary {
  const out: LoraSummary = { applied: [] };
  for (const { ui } of Object.values(outputs)) {
    for (const r of (ui.lora_report as LoraSummary[] | undefined) ?? []) {
      for (const a of r.applied) if (!out.applied.some((b) => b.path === a.path)) out.applied.push(a);
      out.unet ??= r.unet;
      out.text ??= r.text;
    }
  }
  return out;
}
