// The editor's document state: a history whose present is the comic on screen.
import { useCallback, useReducer } from 'react';
import type { Comic } from '../../project/schema.ts';
import { commit, redo, startHistory, undo } from '../../project/history.ts';
import type { History } from '../../project/history.ts';

type Action = { type: 'edit'; fn: (c: Comic) => Comic; mergeKey: string | null } | { type: 'undo' } | { type: 'redo' };

function reduce(h: History, a: Action): History {
  if (a.type === 'undo') return undo(h);
  if (a.type === 'redo') return redo(h);
  return commit(h, a.fn(h.present), a.mergeKey);
}

export interface Editing {
  comic: Comic;
  canUndo: boolean;
  canRedo: boolean;
  /** Applies an edit to the current document (never a stale copy). Edits with one mergeKey in a row are one undo step. */
  edit: (fn: (c: Comic) => Comic, mergeKey?: string) => void;
  undo: () => void;
  redo: () => void;
}

export function useHistory(initial: Comic): Editing {
  const [h, dispatch] = useReducer(reduce, initial, startHistory);
  const edit = useCallback((fn: (c: Comic) => Comic, mergeKey?: string) => dispatch({ type: 'edit', fn, mergeKey: mergeKey ?? null }), []);
  return {
    comic: h.present,
    canUndo: h.past.length > 0,
    canRedo: h.future.length > 0,
    edit,
    undo: useCallback(() => dispatch({ type: 'undo' }), []),
    redo: useCallback(() => dispatch({ type: 'redo' }), []),
  };
}
