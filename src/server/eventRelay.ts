// Turns the executor's events for one prompt into ComfyUI's WebSocket messages: forwards them to the
// prompt's client, adds `display_node` where ComfyUI has it, writes binary preview frames, and derives
// ComfyUI's `progress_state` messages (per-node running/finished state) from `executing`, `progress` and
// `executed`. Terminal events (success/error/interrupted) are not sent here: the runner sends them after
// the history is stored, so a client that fetches /history on `execution_success` always finds it.
import type { ExecutionEvent } from './workflowApi.ts';
import type { SocketHub } from './socketHub.ts';
import { previewFrame } from './socketHub.ts';
import type { OverheadMeter } from './overheadMeter.ts';

export const TERMINAL_EVENTS = new Set(['execution_success', 'execution_error', 'execution_interrupted']);

interface NodeProgress {
  value: number;
  max: number;
  state: 'running' | 'finished';
  node_id: string;
  prompt_id: string;
  display_node_id: string;
  parent_node_id: null;
  real_node_id: string;
}

export interface PromptRelay {
  /** Forwards one executor event (terminal ones are ignored: see sendTerminal). */
  forward(ev: ExecutionEvent): void;
  /** The node being executed now, for a client that reconnects mid-prompt. */
  currentNode(): string | null;
  /** Closes the per-node state and sends the terminal message, then ComfyUI's final `executing {node: null}`. */
  sendTerminal(type: string, data: Record<string, unknown>, afterTerminal: () => void): void;
}

export function createPromptRelay(hub: SocketHub, promptId: string, clientId: string | undefined, meter?: OverheadMeter): PromptRelay {
  const nodes: Record<string, NodeProgress> = {};
  let current: string | null = null;
  // An executor that reports progress_state itself is trusted; otherwise the relay derives it.
  let executorSendsState = false;
  // One executor event becomes up to three messages, and a fast node's events arrive together: the
  // client's socket is held from the first message until the end of this event-loop turn (or the terminal
  // message), so they leave in one write instead of one each.
  let release: (() => void) | undefined;
  const releaseHeld = () => {
    const r = release;
    release = undefined;
    r?.();
  };
  const releaseAtTurnEnd = () => {
    if (!release) return;
    const mark = meter?.start();
    releaseHeld();
    meter?.stop(promptId, mark, 'relay');
  };
  const hold = () => {
    if (release || clientId === undefined) return;
    release = hub.hold(clientId);
    if (release) setImmediate(releaseAtTurnEnd);
  };
  const send = (type: string, data: Record<string, unknown>) => {
    hold();
    hub.send(type, data, clientId);
  };
  // hub.send serialises at once, so the live record can go out as it is (no copy).
  const sendState = () => !executorSendsState && send('progress_state', { prompt_id: promptId, nodes });
  const finishRunning = (): boolean => {
    let changed = false;
    for (const n of Object.values(nodes)) {
      if (n.state === 'running') {
        n.state = 'finished';
        n.value = n.max;
        changed = true;
      }
    }
    return changed;
  };
  const track = (node: string): NodeProgress =>
    (nodes[node] ??= {
      value: 0,
      max: 1,
      state: 'running',
      node_id: node,
      prompt_id: promptId,
      display_node_id: node,
      parent_node_id: null,
      real_node_id: node,
    });
  return {
    forward(ev) {
      if (ev.type === 'preview') {
        hold();
        hub.sendBinary(previewFrame(ev.format, ev.bytes), clientId);
        return;
      }
      if (TERMINAL_EVENTS.has(ev.type)) return;
      if (ev.type === 'progress_state') {
        executorSendsState = true;
        send('progress_state', { ...ev.data, prompt_id: ev.data.prompt_id ?? promptId });
        return;
      }
      const data: Record<string, unknown> = { ...ev.data, prompt_id: ev.data.prompt_id ?? promptId };
      if (ev.type === 'executing') {
        const node = data.node as string | null;
        if (node === null || node === undefined) return; // the final executing null is the runner's
        if (finishRunning()) sendState();
        track(node);
        sendState();
        current = node;
        send('executing', { node, display_node: data.display_node ?? node, prompt_id: data.prompt_id });
        return;
      }
      if (ev.type === 'progress') {
        const node = data.node as string | undefined;
        send('progress', data);
        if (node !== undefined && node !== null) {
          const n = track(String(node));
          n.value = Number(data.value);
          n.max = Number(data.max);
          sendState();
        }
        return;
      }
      if (ev.type === 'executed') {
        const node = String(data.node);
        send('executed', { ...data, display_node: data.display_node ?? node });
        const n = track(node);
        if (n.state === 'running') {
          n.state = 'finished';
          n.value = n.max;
        }
        sendState();
        return;
      }
      send(ev.type, data);
    },
    currentNode: () => current,
    sendTerminal(type, data, afterTerminal) {
      if (finishRunning()) sendState();
      current = null;
      send(type, { ...data, prompt_id: data.prompt_id ?? promptId });
      afterTerminal();
      send('executing', { node: null, prompt_id: promptId });
      releaseHeld();
    },
  };
}
