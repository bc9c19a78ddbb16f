// What the server needs from the workflow layer (src/workflow), as one record so the server can be started
// with it and tests can see exactly which seams exist. The types follow the workflow layer's executor API.
export type ApiPrompt = Record<string, { class_type: string; inputs: Record<string, unknown>; _meta?: { title?: string } }>;

export interface WorkflowEnv {
  inputDir: string;
  outputDir: string;
  tempDir: string;
  modelDirs: Record<string, string[]>;
  limits: { maxImagePixels: number; maxInputBytes: number };
  device?: 'cpu' | 'cuda';
}

export interface ValidationErrorBody {
  error: { type: string; message: string; details: string; extra_info: Record<string, unknown> };
  node_errors: Record<string, unknown>;
}

export type ValidationResult =
  | { ok: true; outputs: string[]; node_errors?: Record<string, unknown> }
  | { ok: false; body: ValidationErrorBody };

export type ExecutionEvent =
  | {
      type:
        | 'execution_start'
        | 'execution_cached'
        | 'executing'
        | 'progress'
        | 'progress_state'
        | 'executed'
        | 'execution_success'
        | 'execution_error'
        | 'execution_interrupted';
      data: Record<string, unknown>;
    }
  | { type: 'preview'; format: 'JPEG' | 'PNG'; bytes: Uint8Array };

export interface JobOutcome {
  status: 'success' | 'error' | 'interrupted';
  outputs: Record<string, Record<string, unknown>>;
  messages: [string, Record<string, unknown>][];
  meta?: Record<string, Record<string, unknown>>;
}

export interface ExecutorJob {
  promptId: string;
  prompt: ApiPrompt;
  extraData?: Record<string, unknown>;
  clientId?: string;
}

export interface Executor {
  run(job: ExecutorJob, hooks: { signal: AbortSignal; emit(ev: ExecutionEvent): void }): Promise<JobOutcome>;
  free(opts: { unloadModels?: boolean; freeMemory?: boolean }): void;
}

export interface WorkflowApi {
  validatePrompt(prompt: unknown, env: WorkflowEnv): ValidationResult | Promise<ValidationResult>;
  objectInfo(env: WorkflowEnv): Record<string, unknown>;
  createExecutor(env: WorkflowEnv): Executor;
}
