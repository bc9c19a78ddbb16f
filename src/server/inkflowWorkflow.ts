// The workflow layer's nodes, validation and executor, as the server and `inkflow worker` use them.
import { createExecutor, objectInfo, validatePrompt } from '../workflow/index.ts';
import type { WorkflowApi } from './workflowApi.ts';

export const inkflowWorkflow: WorkflowApi = {
  validatePrompt: (prompt, env) => validatePrompt(prompt, env),
  objectInfo,
  createExecutor,
};
