// What happens around one prompt's run, the same whether it runs in this process or on a Redis worker:
// status broadcasts when the queue changes, one relay per running prompt for its WebSocket messages, and
// the end of a run — history stored first (exactly once), then the terminal message, the queue status and
// ComfyUI's final `executing {node: null}`.
import type { HistoryRecord, PromptStore, QueuedPrompt } from './store.ts';
import type { SocketHub } from './socketHub.ts';
import type { JobOutcome } from './workflowApi.ts';
import type { OverheadMeter } from './overheadMeter.ts';
import { createPromptRelay, TERMINAL_EVENTS, type PromptRelay } from './eventRelay.ts';

export interface PromptLifecycle {
  readonly store: PromptStore;
  readonly hub: SocketHub;
  broadcastStatus(): void;
  /**
   * The same, once for all queue changes of this event-loop turn (a burst of 50 POSTs sends one status).
   * The prompts accepted this turn share the broadcast's time in the overhead meter.
   */
  broadcastStatusSoon(acceptedPromptId?: string): void;
  /** Status when a prompt starts (skipped when a prompt's end just sent the same queue length this turn). */
  startedStatus(): void;
  /** The prompt now runs: its relay for events (created once per prompt). */
  started(p: Pick<QueuedPrompt, 'id' | 'clientId'>): PromptRelay;
  relayOf(promptId: string): PromptRelay | undefined;
  /** Stores the history (false if it already was: nothing is sent twice) and sends the closing messages. */
  completed(p: Pick<QueuedPrompt, 'id' | 'clientId'>, outcome: JobOutcome): boolean;
  /** Session id → the prompt it is running, for `executing` on reconnect. */
  runningFor(sid: string): { promptId: string; node: string | null } | undefined;
  /** Main-thread time spent on each prompt (accepting, dispatching, relaying, completing), for the bench. */
  readonly meter: OverheadMeter;
}

export function historyRecordOf(outcome: JobOutcome): HistoryRecord {
  const success = outcome.status === 'success';
  const meta: HistoryRecord['meta'] = { ...outcome.meta };
  if (!outcome.meta) for (const node of Object.keys(outcome.outputs)) {
    meta[node] = { node_id: node, display_node: node, parent_node: null, real_node_id: node };
  }
  return {
    outputs: outcome.outputs,
    status: { status_str: success ? 'success' : 'error', completed: success, messages: outcome.messages },
    meta,
  };
}

/** The terminal message of a run: the one the executor recorded, or one built from the status. */
export function terminalMessageOf(promptId: string, outcome: JobOutcome): [string, Record<string, unknown>] {
  const recorded = outcome.messages.findLast(([type]) => TERMINAL_EVENTS.has(type)); // the last one, without copying the list
  if (recorded) return recorded;
  const type = outcome.status === 'success' ? 'execution_success' : outcome.status === 'interrupted' ? 'execution_interrupted' : 'execution_error';
  return [type, { prompt_id: promptId, timestamp: Date.now() }];
}

/** A run that threw instead of returning an outcome (a bug or a lost worker) still ends with ComfyUI's error body. */
export function crashedOutcome(promptId: string, err: unknown): JobOutcome {
  const e = err instanceof Error ? err : new Error(String(err));
  const data = {
    prompt_id: promptId,
    node_id: null,
    node_type: null,
    executed: [],
    exception_message: e.message,
    exception_type: e.name,
    traceback: (e.stack ?? '').split('\n').slice(1, 8),
    current_inputs: {},
    current_outputs: {},
    timestamp: Date.now(),
  };
  return { status: 'error', outputs: {}, meta: {}, messages: [['execution_start', { prompt_id: promptId, timestamp: data.timestamp }], ['execution_error', data]] };
}

export function createPromptLifecycle(store: PromptStore, hub: SocketHub, meter: OverheadMeter): PromptLifecycle {
  const relays = new Map<string, { relay: PromptRelay; clientId?: string }>();
  let soon: NodeJS.Immediate | undefined;
  let acceptedThisTurn: string[] = [];
  // The queue length a prompt's end broadcast during this event-loop turn. When the next prompt starts in
  // the same turn, ComfyUI would send the same status again right away; that copy tells no client anything
  // new (they read the queue after the turn either way) and costs one write per open socket, so a start
  // right after an end skips it. Every other status goes out as ComfyUI sends it.
  let sentAtEnd: number | undefined;
  const sendStatus = (remaining: number) => hub.send('status', { status: { exec_info: { queue_remaining: remaining } } });
  const broadcastStatus = () => {
    if (soon) clearImmediate(soon);
    soon = undefined;
    acceptedThisTurn = [];
    sendStatus(store.remaining());
  };
  const broadcastEndStatus = () => {
    const remaining = store.remaining();
    if (sentAtEnd === undefined) setImmediate(() => (sentAtEnd = undefined));
    sentAtEnd = remaining;
    sendStatus(remaining);
  };
  const broadcastSoonNow = () => {
    const sharedBy = acceptedThisTurn;
    const mark = meter.start();
    broadcastStatus();
    meter.stopShared(sharedBy, mark, 'status');
  };
  const broadcastStatusSoon = (acceptedPromptId?: string) => {
    if (acceptedPromptId !== undefined && meter.enabled) acceptedThisTurn.push(acceptedPromptId);
    soon ??= setImmediate(broadcastSoonNow);
  };
  return {
    store,
    hub,
    broadcastStatus,
    broadcastStatusSoon,
    startedStatus() {
      if (sentAtEnd !== undefined && sentAtEnd === store.remaining()) return;
      broadcastStatus();
    },
    started(p) {
      let entry = relays.get(p.id);
      if (!entry) {
        entry = { relay: createPromptRelay(hub, p.id, p.clientId, meter), clientId: p.clientId };
        relays.set(p.id, entry);
      }
      return entry.relay;
    },
    relayOf: (id) => relays.get(id)?.relay,
    meter,
    completed(p, outcome) {
      const mark = meter.start();
      const relay = relays.get(p.id)?.relay ?? createPromptRelay(hub, p.id, p.clientId, meter);
      relays.delete(p.id);
      if (!store.finish(p.id, historyRecordOf(outcome))) return false;
      const [type, data] = terminalMessageOf(p.id, outcome);
      relay.sendTerminal(type, data, broadcastEndStatus);
      meter.stop(p.id, mark, 'complete');
      meter.complete(p.id);
      return true;
    },
    runningFor(sid) {
      for (const [promptId, e] of relays) if (e.clientId === sid) return { promptId, node: e.relay.currentNode() };
      return undefined;
    },
  };
}
