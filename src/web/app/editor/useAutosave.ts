// Saves the comic a moment after each change, never blocking the editor. A failed save is retried; a
// conflict (the comic was saved elsewhere) stops autosave and says so instead of overwriting.
import { useEffect, useRef, useState } from 'react';
import type { Comic } from '../../project/schema.ts';
import { saveProject } from '../api/projectsApi.ts';
import { describeError, StudioError } from '../api/http.ts';

export type SaveState = { kind: 'saved' } | { kind: 'pending' } | { kind: 'saving' } | { kind: 'failed'; message: string } | { kind: 'conflict'; message: string };

const DEBOUNCE_MS = 600;
const RETRY_MS = 4000;

export function useAutosave(comic: Comic, initialRevision: number): SaveState {
  const [state, setState] = useState<SaveState>({ kind: 'saved' });
  const saved = useRef(comic);
  const revision = useRef(initialRevision);
  const inFlight = useRef(false);
  const latest = useRef(comic);
  latest.current = comic;
  const [retryTick, setRetryTick] = useState(0);
  // Every save goes through one chain, so the last save on leaving the editor waits for one in flight
  // (two saves from the same base revision would conflict).
  const chain = useRef<Promise<void>>(Promise.resolve());

  useEffect(() => {
    if (state.kind === 'conflict') return;
    if (comic === saved.current) {
      // Undo back to the saved version: nothing to write.
      if (!inFlight.current) setState({ kind: 'saved' });
      return;
    }
    setState((s) => (s.kind === 'failed' ? s : { kind: 'pending' }));
    const timer = setTimeout(async function flush() {
      if (inFlight.current) return void setTimeout(flush, 100);
      const doc = latest.current;
      if (doc === saved.current) return;
      inFlight.current = true;
      setState({ kind: 'saving' });
      const run = (async () => {
        try {
          const r = await saveProject(doc, revision.current);
          revision.current = r.revision;
          saved.current = doc;
          setState(latest.current === doc ? { kind: 'saved' } : { kind: 'pending' });
        } catch (e) {
          if (e instanceof StudioError && e.status === 409) setState({ kind: 'conflict', message: describeError(e) });
          else {
            setState({ kind: 'failed', message: describeError(e) });
            setTimeout(() => setRetryTick((t) => t + 1), RETRY_MS);
          }
        } finally {
          inFlight.current = false;
        }
      })();
      chain.current = run;
      await run;
    }, DEBOUNCE_MS);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [comic, retryTick]);

  // Leaving the editor inside the app (the Models page, the project list) within the debounce would
  // otherwise drop the last change: save it once whatever is in flight has finished.
  useEffect(
    () => () => {
      chain.current = chain.current.then(async () => {
        const doc = latest.current;
        if (doc === saved.current) return;
        try {
          const r = await saveProject(doc, revision.current);
          revision.current = r.revision;
          saved.current = doc;
        } catch {
          // The editor is gone: nothing left to tell. A conflict keeps the other tab's version.
        }
      });
    },
    [],
  );

  // Closing the tab with unsaved changes asks first.
  useEffect(() => {
    const warn = (e: BeforeUnloadEvent) => {
      if (latest.current !== saved.current) e.preventDefault();
    };
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, []);

  return state;
}
