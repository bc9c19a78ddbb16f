// Generation jobs, one per panel at most, kept at editor level so a job keeps running — and showing its
// progress — while the painter selects other panels, changes pages or edits bubbles.
import { useCallback, useRef, useState } from 'react';
import { cancelJob, JobCancelled } from './comfyClient.ts';
import type { JobCallbacks } from './comfyClient.ts';
import { describeError } from '../api/http.ts';

export interface JobView {
  label: string;
  status: string;
  value: number;
  max: number;
  preview: string | null;
  promptId: string | null;
  error: string | null;
  running: boolean;
  /** Pictures to choose from (inpainting candidates); picking one puts it on the panel. */
  candidates: { url: string; pick: () => Promise<void> }[];
}

export interface JobResult {
  status: string;
  candidates?: JobView['candidates'];
}

export interface Jobs {
  byPanel: Record<string, JobView>;
  start: (panelId: string, label: string, work: (cb: JobCallbacks) => Promise<JobResult>) => void;
  cancel: (panelId: string) => void;
  dismiss: (panelId: string) => void;
}

export function useJobs(): Jobs {
  const [byPanel, setByPanel] = useState<Record<string, JobView>>({});
  const promptIds = useRef(new Map<string, string>());
  const update = useCallback((panelId: string, patch: Partial<JobView>) => setByPanel((m) => (m[panelId] ? { ...m, [panelId]: { ...m[panelId], ...patch } } : m)), []);

  const start = useCallback(
    (panelId: string, label: string, work: (cb: JobCallbacks) => Promise<JobResult>) => {
      setByPanel((m) => ({ ...m, [panelId]: { label, status: 'sending to the server…', value: 0, max: 0, preview: null, promptId: null, error: null, running: true, candidates: [] } }));
      const cb: JobCallbacks = {
        onQueued: (id) => {
          promptIds.current.set(panelId, id);
          update(panelId, { promptId: id, status: 'waiting in the queue…' });
        },
        onProgress: (value, max) => update(panelId, { value, max, status: `step ${value} of ${max}` }),
        onPreview: (url) => update(panelId, { preview: url }),
        onStatus: (status) => update(panelId, { status }),
      };
      work(cb).then(
        (done) => update(panelId, { running: false, status: done.status, candidates: done.candidates ?? [] }),
        (e) => update(panelId, { running: false, status: e instanceof JobCancelled ? 'cancelled' : 'failed', error: e instanceof JobCancelled ? null : describeError(e) }),
      );
    },
    [update],
  );

  const cancel = useCallback(
    (panelId: string) => {
      const id = promptIds.current.get(panelId);
      update(panelId, { status: 'cancelling…' });
      if (id) void cancelJob(id);
    },
    [update],
  );

  const dismiss = useCallback((panelId: string) => setByPanel(({ [panelId]: _, ...rest }) => rest), []);
  return { byPanel, start, cancel, dismiss };
}
