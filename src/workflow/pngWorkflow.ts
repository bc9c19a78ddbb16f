// The workflow a PNG carries, as SaveImage writes it (and ComfyUI does): a `prompt` tEXt chunk with the API
// prompt, and one JSON chunk per extra_pnginfo key (the UI's `workflow`). Read by `inkflow run image.png` and
// by the server's POST /inkflow/workflow-from-png, so both accept and refuse the same files.
import { readPngText } from '../imaging/image.ts';
import type { ApiPrompt } from './api.ts';
import { parseJsonExact } from './jsonExact.ts';

export class WorkflowFileError extends Error {
  override name = 'WorkflowFileError';
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export const isPng = (bytes: Uint8Array): boolean => bytes.length >= 8 && Buffer.from(bytes.subarray(0, 8)).equals(PNG_SIGNATURE);

/** An API-format prompt from JSON text (also `{prompt: …}` bodies); a UI-format workflow is refused with how to export one. */
export function parseApiPrompt(json: string, what: string): ApiPrompt {
  let v: unknown;
  try {
    v = parseJsonExact(json);
  } catch (e) {
    throw new WorkflowFileError(`${what} is not JSON — ${(e as Error).message}`);
  }
  if (v && typeof v === 'object' && !Array.isArray(v) && 'prompt' in v && typeof (v as { prompt: unknown }).prompt === 'object') v = (v as { prompt: unknown }).prompt;
  if (v && typeof v === 'object' && Array.isArray((v as { nodes?: unknown }).nodes)) {
    throw new WorkflowFileError(`${what} is a ComfyUI UI workflow, not the API format (export it with Workflow → Export (API))`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new WorkflowFileError(`${what} is not an API-format workflow — expected an object of nodes {"1": {"class_type": …, "inputs": …}}`);
  return v as ApiPrompt;
}

export interface PngWorkflow {
  /** The API prompt of the `prompt` chunk, when there is one. */
  prompt?: ApiPrompt;
  /** Every other JSON tEXt chunk (extra_pnginfo: `workflow`, …), parsed; inkflow's own settings chunk excluded. */
  extraPngInfo: Record<string, unknown>;
}

/** The prompt and extra_pnginfo of a PNG; refuses non-PNG bytes and PNGs that carry neither. */
export function workflowFromPng(bytes: Buffer, what: string): PngWorkflow {
  if (!isPng(bytes)) throw new WorkflowFileError(`${what} is not a PNG`);
  const text = readPngText(bytes);
  const extraPngInfo: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(text)) {
    if (k === 'prompt' || k === 'inkflow') continue;
    try {
      extraPngInfo[k] = JSON.parse(v);
    } catch {
      // a chunk that is not JSON (a comment, a tool's note) is not extra_pnginfo
    }
  }
  if (text.prompt === undefined && extraPngInfo.workflow === undefined) {
    throw new WorkflowFileError(`${what} has no workflow — no "prompt" tEXt chunk and no "workflow" chunk (only PNGs saved by ComfyUI or inkflow carry them)`);
  }
  return { ...(text.prompt !== undefined ? { prompt: parseApiPrompt(text.prompt, `the "prompt" chunk of ${what}`) } : {}), extraPngInfo };
}
