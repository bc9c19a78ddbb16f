// Names and messages shared by the server and `inkflow worker` over Redis. Prompts travel as BullMQ jobs
// (job id = prompt id, so a re-submit after a crash cannot duplicate a job); progress, previews and
// commands travel over pub/sub, which is fire-and-forget — the job's own completion (BullMQ) is what makes
// history, so a lost progress message never loses a result.
import type { ExecutionEvent, ExecutorJob } from '../workflowApi.ts';

export const QUEUE_NAME = 'inkflow-prompts';
export const EVENTS_CHANNEL = 'inkflow:events';
export const INTERRUPT_CHANNEL = 'inkflow:interrupt';
export const FREE_CHANNEL = 'inkflow:free';

export type PromptJobData = ExecutorJob;

interface WireEvent {
  promptId: string;
  type: string;
  data?: Record<string, unknown>;
  format?: 'JPEG' | 'PNG';
  /** Preview bytes, base64. */
  bytes?: string;
}

export function encodeEvent(promptId: string, ev: ExecutionEvent): string {
  const wire: WireEvent =
    ev.type === 'preview'
      ? { promptId, type: 'preview', format: ev.format, bytes: Buffer.from(ev.bytes).toString('base64') }
      : { promptId, type: ev.type, data: ev.data };
  return JSON.stringify(wire);
}

export function decodeEvent(raw: string): { promptId: string; ev: ExecutionEvent } | undefined {
  let w: WireEvent;
  try {
    w = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof w.promptId !== 'string' || typeof w.type !== 'string') return undefined;
  if (w.type === 'preview') {
    if (!w.bytes || (w.format !== 'JPEG' && w.format !== 'PNG')) return undefined;
    return { promptId: w.promptId, ev: { type: 'preview', format: w.format, bytes: Buffer.from(w.bytes, 'base64') } };
  }
  return { promptId: w.promptId, ev: { type: w.type as Exclude<ExecutionEvent['type'], 'preview'>, data: w.data ?? {} } as ExecutionEvent };
}
