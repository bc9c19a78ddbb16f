// Talks to the server's ComfyUI-compatible API: queue a workflow (POST /prompt), follow it over the
// WebSocket (/ws: progress, step previews as binary frames, results), fetch results (/view), upload
// pictures (/upload/image), cancel (/queue delete + /interrupt), list nodes and models. Every failure is
// turned into a sentence about painting, not a stack trace.
import { requestJson, StudioError } from '../api/http.ts';
import { authed } from '../api/serverToken.ts';
import { explainPromptError } from '../../workflows/promptErrors.ts';

export type ComfyPrompt = Record<string, { class_type: string; inputs: Record<string, unknown>; _meta?: { title: string } }>;
export interface OutputImage {
  filename: string;
  subfolder: string;
  type: string;
  /** The node that saved it (set by runWorkflow), to tell a workflow's outputs apart. */
  node?: string;
}

export const clientId = `studio-${crypto.getRandomValues(new Uint32Array(2)).join('')}`;

type Listener = (msg: { type: string; data: any } | { type: 'preview'; blob: Blob }) => void;
const listeners = new Set<Listener>();
let socket: WebSocket | null = null;

function ensureSocket(): void {
  if (socket && socket.readyState <= WebSocket.OPEN) return;
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${authed(`/ws?clientId=${clientId}`)}`;
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  ws.onmessage = (ev) => {
    if (typeof ev.data === 'string') {
      let msg: { type: string; data: unknown };
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      for (const l of listeners) l(msg);
    } else {
      const buf = ev.data as ArrayBuffer;
      const view = new DataView(buf);
      if (buf.byteLength < 8 || view.getUint32(0) !== 1) return; // 1 = preview image
      const type = view.getUint32(4) === 2 ? 'image/png' : 'image/jpeg';
      const blob = new Blob([buf.slice(8)], { type });
      for (const l of listeners) l({ type: 'preview', blob });
    }
  };
  ws.onclose = () => {
    if (socket === ws) socket = null;
  };
  socket = ws;
}

function waitOpen(): Promise<void> {
  ensureSocket();
  const ws = socket!;
  if (ws.readyState === WebSocket.OPEN) return Promise.resolve();
  return new Promise((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new StudioError('the live connection to the server (/ws) could not be opened', 0)), { once: true });
  });
}

export async function objectInfo(): Promise<Record<string, { input: { required?: Record<string, unknown[]>; optional?: Record<string, unknown[]> } }>> {
  return requestJson('GET', '/object_info');
}

/** The choices a node input offers (e.g. checkpoint names), or [] when the node or input is unknown. */
export function choices(info: Awaited<ReturnType<typeof objectInfo>>, node: string, input: string): string[] {
  const spec = info[node]?.input.required?.[input] ?? info[node]?.input.optional?.[input];
  const first = spec?.[0];
  if (Array.isArray(first)) return first.map(String);
  const opts = spec?.[1] as { options?: unknown } | undefined;
  return Array.isArray(opts?.options) ? opts.options.map(String) : [];
}

export const listModelFolders = () => requestJson<string[]>('GET', '/models');
export const listModels = (folder: string) => requestJson<string[]>('GET', `/models/${encodeURIComponent(folder)}`);

export async function uploadImage(picture: Blob, name: string): Promise<OutputImage> {
  const form = new FormData();
  form.append('image', picture, name);
  form.append('overwrite', 'true');
  form.append('type', 'input');
  form.append('subfolder', 'studio');
  const r = await requestJson<{ name: string; subfolder: string; type: string }>('POST', '/upload/image', undefined, { body: form });
  return { filename: r.name, subfolder: r.subfolder, type: r.type };
}

export function viewUrl(img: OutputImage): string {
  return authed(`/view?${new URLSearchParams({ filename: img.filename, subfolder: img.subfolder, type: img.type })}`);
}

export interface JobCallbacks {
  onQueued?: (promptId: string) => void;
  onProgress?: (value: number, max: number) => void;
  onPreview?: (url: string) => void;
  onStatus?: (text: string) => void;
}

export class JobCancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'JobCancelled';
  }
}

/**
 * Queues a workflow and resolves with the images its output nodes produced. Progress and previews
 * arrive while it runs; nothing here blocks the page.
 */
export async function runWorkflow(prompt: ComfyPrompt, cb: JobCallbacks = {}, extra?: Record<string, unknown>): Promise<OutputImage[]> {
  await waitOpen();
  let promptId = '';
  const images: OutputImage[] = [];
  let previewUrl: string | null = null;
  let settle!: { resolve: (v: OutputImage[]) => void; reject: (e: Error) => void };
  const done = new Promise<OutputImage[]>((resolve, reject) => (settle = { resolve, reject }));
  const early: { type: string; data: any }[] = [];
  const handle = (msg: { type: string; data: any }) => {
    const d = msg.data ?? {};
    if (d.prompt_id && d.prompt_id !== promptId) return;
    if (msg.type === 'progress') cb.onProgress?.(d.value, d.max);
    else if (msg.type === 'executing' && d.node) cb.onStatus?.(`running ${prompt[d.node]?._meta?.title ?? prompt[d.node]?.class_type ?? 'a step'}`);
    else if (msg.type === 'executed') images.push(...((d.output?.images ?? []) as OutputImage[]).map((i) => ({ ...i, node: String(d.node) })));
    else if (msg.type === 'execution_success' || (msg.type === 'executing' && d.node === null)) settle.resolve(images);
    else if (msg.type === 'execution_interrupted') settle.reject(new JobCancelled());
    else if (msg.type === 'execution_error') {
      const node = d.node_type ? `the ${d.node_type} step` : 'a step';
      settle.reject(new StudioError(`${node} failed: ${String(d.exception_message ?? 'unknown error').split('\n')[0]}`, 500));
    }
  };
  const listener: Listener = (msg) => {
    if (msg.type === 'preview') {
      if (!promptId) return;
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      previewUrl = URL.createObjectURL((msg as { blob: Blob }).blob);
      cb.onPreview?.(previewUrl);
      return;
    }
    const m = msg as { type: string; data: any };
    if (!promptId) early.push(m);
    else handle(m);
  };
  listeners.add(listener);
  try {
    const res = await fetch(authed('/prompt'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt, client_id: clientId, extra_data: extra }) }).catch(() => {
      throw new StudioError('the inkflow server cannot be reached: is `inkflow serve` still running?', 0);
    });
    const body = await res.json().catch(() => null);
    if (!res.ok) throw new StudioError(explainPromptError(body), res.status);
    promptId = String(body.prompt_id);
    cb.onQueued?.(promptId);
    for (const m of early.splice(0)) handle(m);
    return await done;
  } finally {
    listeners.delete(listener);
  }
}

/** Stops a job: removes it from the queue if it has not started, interrupts it if it is running. */
export async function cancelJob(promptId: string): Promise<void> {
  await Promise.allSettled([requestJson('POST', '/queue', { delete: [promptId] }), requestJson('POST', '/interrupt', { prompt_id: promptId })]);
}

export async function fetchImage(img: OutputImage): Promise<Blob> {
  const res = await fetch(viewUrl(img));
  if (!res.ok) throw new StudioError('the finished picture could not be fetched from the server', res.status);
  return res.blob();
}
