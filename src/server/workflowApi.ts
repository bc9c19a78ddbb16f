// What the server needs from the workflow layer (src/workflow), as one record so the server can be started
// with it and the seams are visible in one place.
import type { Executor, ValidationResult, WorkflowEnv } from '../workflow/index.ts';

export type { ApiPrompt, ExecutionEvent, Executor, Job as ExecutorJob, JobOutcome, ValidationResult, WorkflowEnv } from '../workflow/index.ts';

export interface WorkflowApi {
  validatePrompt(prompt: unknown, env: WorkflowEnv): ValidationResult | Promise<ValidationResult>;
  objectInfo(env: WorkflowEnv): Record<string, unknown>;
  createExecutor(env: WorkflowEnv): Executor;
}
