// Undo/redo over whole documents. Edits are immutable, so a step is just the previous document (shared
// structure keeps this cheap). Edits that arrive as a stream — typing in a bubble, dragging a slider —
// carry the same `mergeKey` and fold into one step while they keep coming within MERGE_WINDOW_MS.
import type { Comic } from './schema.ts';

export const HISTORY_LIMIT = 200;
export const MERGE_WINDOW_MS = 1000;

export interface History {
  past: Comic[];
  present: Comic;
  future: Comic[];
  mergeKey: string | null;
  mergedAt: number;
}

export function startHistory(present: Comic): History {
  return { past: [], present, future: [], mergeKey: null, mergedAt: 0 };
}

export function commit(h: History, next: Comic, mergeKey: string | null = null, now = Date.now()): History {
  if (next === h.present) return h;
  const merge = mergeKey !== null && mergeKey === h.mergeKey && now - h.mergedAt < MERGE_WINDOW_MS && h.past.length > 0;
  const past = merge ? h.past : [...h.past, h.present].slice(-HISTORY_LIMIT);
  return { past, present: next, future: [], mergeKey, mergedAt: now };
}

export function undo(h: History): History {
  if (h.past.length === 0) return h;
  return { past: h.past.slice(0, -1), present: h.past[h.past.length - 1], future: [h.present, ...h.future], mergeKey: null, mergedAt: 0 };
}

export function redo(h: History): History {
  if (h.future.length === 0) return h;
  return { past: [...h.past, h.present], present: h.future[0], future: h.future.slice(1), mergeKey: null, mergedAt: 0 };
}
