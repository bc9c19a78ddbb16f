// The workflow layer's public types: ComfyUI's API prompt format, the folders a workflow runs against,
// the events an execution reports (ComfyUI's WebSocket messages) and what a finished job leaves behind
// (what /history shows). The server and the CLI both speak these.

/** A ComfyUI API-format prompt: node id → class, inputs (literal or [source id, output index]). */
export type ApiPrompt = Record<string, { class_type: string; inputs: Record<string, unknown>; _meta?: { title?: string } }>;

/** Folders laid out like ComfyUI's data folder, plus limits for untrusted input. */
export interface WorkflowEnv {
  inputDir: string;
  outputDir: string;
  tempDir: string;
  /**
   * ComfyUI folder names → folders searched in order: checkpoints, loras, controlnet (T2I-Adapters live
   * there too, as in ComfyUI), t2i_adapter, clip_vision, vae, embeddings, colorize (inkflow's own), …
   */
  modelDirs: Record<string, string[]>;
  /**
   * Models that are not files in those folders but are offered under a name of their own — inkflow's
   * bundled defaults (models/bundledModels.ts): folder kind → name → model path. Listed after the folder
   * contents; a file of the same name in a folder wins.
   */
  bundledModels?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  limits: { maxImagePixels: number; maxInputBytes: number };
  device?: 'cpu' | 'cuda';
  /** CLIP tokenizer folder (vocab.json + merges.txt) for single-file checkpoints, which carry none. */
  tokenizerDir?: string;
  /**
   * Per-model int8 inference: checkpoint names (as the loader nodes list them) compiled int8; '*' = all.
   * Lossy and opt-in (graph/int8Lowering.ts); absent: every model exact fp32.
   */
  int8Models?: readonly string[];
  /** Step caching for KSampler/KSamplerAdvanced: full UNet every N steps; absent or 1: off (exact). */
  cacheSteps?: number;
}

/** ComfyUI's error body for a refused prompt (HTTP 400). */
export interface PromptErrorBody {
  error: { type: string; message: string; details: string; extra_info: object };
  node_errors: Record<string, unknown>;
}

export type ValidationResult =
  | {
      ok: true;
      /** Output node ids that passed validation (only these run). */
      outputs: string[];
      /** Errors of outputs that failed while others passed (ComfyUI still answers 200 then). */
      node_errors: Record<string, unknown>;
    }
  | { ok: false; body: PromptErrorBody };

/**
 * ComfyUI WebSocket messages, `data` shaped exactly as ComfyUI sends them. The executor does not send
 * `status` (queue size) nor the final `executing {node: null}`: both belong to the queue, which sends
 * them after the job's execution_success / _error / _interrupted.
 */
export type ExecutionEvent =
  | {
      type: 'execution_start' | 'execution_cached' | 'executing' | 'progress' | 'progress_state' | 'executed' | 'execution_success' | 'execution_error' | 'execution_interrupted';
      data: Record<string, unknown>;
    }
  | { type: 'preview'; format: 'JPEG' | 'PNG'; bytes: Uint8Array };

export interface JobOutcome {
  status: 'success' | 'error' | 'interrupted';
  /** Per node id, the UI output (e.g. `{images: [{filename, subfolder, type}]}`) as in /history. */
  outputs: Record<string, Record<string, unknown>>;
  /** execution_start, execution_cached and the final message, as /history's status.messages. */
  messages: [string, Record<string, unknown>][];
  /** /history's `meta`: per output node, its display ids. */
  meta: Record<string, { node_id: string; display_node: string; parent_node: null; real_node_id: string }>;
}

export interface Job {
  promptId: string;
  prompt: ApiPrompt;
  extraData?: Record<string, unknown>;
  clientId?: string;
}

export interface ExecutionHooks {
  signal: AbortSignal;
  emit(ev: ExecutionEvent): void;
}

export interface Executor {
  run(job: Job, hooks: ExecutionHooks): Promise<JobOutcome>;
  /** POST /free: drop cached node outputs (freeMemory) and loaded models (unloadModels). */
  free(opts: { unloadModels?: boolean; freeMemory?: boolean }): void;
}
