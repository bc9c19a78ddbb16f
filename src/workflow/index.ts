// The workflow layer: ComfyUI-compatible node declarations, prompt validation, /object_info and the executor.
export type { ApiPrompt, ExecutionEvent, ExecutionHooks, Executor, Job, JobOutcome, PromptErrorBody, ValidationResult, WorkflowEnv } from './api.ts';
export { validatePrompt, validateEnvelope, type Envelope } from './validate.ts';
export { objectInfo, objectInfoFor } from './objectInfo.ts';
export { createExecutor, executionOrder } from './executor.ts';
export { nodeRegistry } from './registry.ts';
export { dataFolderEnv, MODEL_KINDS, type DataFolderOptions } from './dataFolder.ts';
export { listInputImages, listModels, resolveModel, resolveAnnotated } from './folders.ts';
export { parseJsonExact } from './jsonExact.ts';
export { pyJsonDumps } from './python.ts';
