// The workflow layer: ComfyUI-compatible node declarations, prompt validation, /object_info and the executor.
export type { ApiPrompt, ExecutionEvent, ExecutionHooks, Executor, Job, JobOutcome, PromptErrorBody, ValidationResult, WorkflowEnv } from './api.ts';
export { validatePrompt, validateEnvelope, type Envelope } from './validate.ts';
export { objectInfo, objectInfoFor } from './objectInfo.ts';
export { createExecutor } from './executor.ts';
export { nodeRegistry } from './registry.ts';
