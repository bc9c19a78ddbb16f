// Accepted prompts and their history, in one SQLite table (better-sqlite3, WAL) in the data folder, so a
// crash or kill -9 loses nothing that the server already answered 200 for.
// A prompt moves pending → running → done; the move to done writes its history in the same statement and
// only from running/pending, so one prompt can never get two history entries. A prompt found "running" at
// start-up was cut off by a crash: it goes back to pending and runs again (attempt 2); if it was already on
// its second attempt it is finished with an error instead, so a prompt that kills the server cannot loop.
import Database from 'better-sqlite3';

export type PromptState = 'pending' | 'running' | 'done';

export interface QueuedPrompt {
  readonly id: string;
  readonly number: number;
  readonly prompt: Record<string, unknown>;
  /** ComfyUI's extra_data, with client_id folded in as ComfyUI does. */
  readonly extraData: Record<string, unknown>;
  /** Output node ids validation found. */
  readonly outputs: string[];
  readonly clientId?: string;
}

export interface HistoryStatus {
  status_str: 'success' | 'error';
  completed: boolean;
  messages: [string, Record<string, unknown>][];
}

export interface HistoryRecord {
  outputs: Record<string, Record<string, unknown>>;
  status: HistoryStatus;
  meta: Record<string, Record<string, unknown>>;
}

/** ComfyUI's queue item: [number, prompt_id, prompt, extra_data, outputs_to_execute]. */
export type QueueItem = [number, string, Record<string, unknown>, Record<string, unknown>, string[]];

export interface HistoryEntry extends HistoryRecord {
  prompt: QueueItem;
}

/** A run cut off by a crash gets one more attempt; the attempt after that is recorded as an error. */
export const MAX_ATTEMPTS = 2;

interface Row {
  id: string;
  number: number;
  prompt: string;
  extra_data: string;
  outputs: string;
  client_id: string | null;
  state: PromptState;
  attempts: number;
  history: string | null;
}

export interface PromptStore {
  insert(p: QueuedPrompt): void;
  /** The pending prompt with the lowest number, or undefined. */
  nextPending(): QueuedPrompt | undefined;
  /** pending → running (attempt counted); false when it is not pending any more (deleted, or taken). */
  markRunning(id: string): boolean;
  /** pending/running → done with its history; false when it was already done or deleted (no duplicate). */
  finish(id: string, record: HistoryRecord): boolean;
  get(id: string): (QueuedPrompt & { state: PromptState; attempts: number }) | undefined;
  running(): QueueItem[];
  pending(): QueueItem[];
  /** Number of prompts not yet done (ComfyUI's queue_remaining counts the running one). */
  remaining(): number;
  deletePending(ids: readonly string[]): string[];
  clearPending(): string[];
  /** Oldest first. No offset: the newest `maxItems`. With an offset: `maxItems` from the oldest + offset. */
  history(maxItems?: number, offset?: number): Record<string, HistoryEntry>;
  historyOf(id: string): HistoryEntry | undefined;
  deleteHistory(ids: readonly string[]): void;
  clearHistory(): void;
  /** The highest number handed out so far (numbers keep growing across restarts). */
  maxNumber(): number;
  minNumber(): number;
  /** After a crash: running prompts go back to pending, or are finished with an error after MAX_ATTEMPTS. */
  recoverInterrupted(now?: number): { requeued: string[]; failed: string[] };
  /** running → pending, the attempt not counted (a run stopped by a clean shutdown, not by a crash). */
  requeue(id: string): boolean;
  /** With Redis workers a running prompt may still be running elsewhere: back to pending, no attempt rule. */
  resetRunning(): string[];
  close(): void;
}

function toItem(r: Row): QueueItem {
  return [r.number, r.id, JSON.parse(r.prompt), JSON.parse(r.extra_data), JSON.parse(r.outputs)];
}

function toPrompt(r: Row): QueuedPrompt & { state: PromptState; attempts: number } {
  return {
    id: r.id,
    number: r.number,
    prompt: JSON.parse(r.prompt),
    extraData: JSON.parse(r.extra_data),
    outputs: JSON.parse(r.outputs),
    clientId: r.client_id ?? undefined,
    state: r.state,
    attempts: r.attempts,
  };
}

function toHistory(r: Row): HistoryEntry {
  const h = JSON.parse(r.history ?? '{}') as HistoryRecord;
  return { prompt: toItem(r), outputs: h.outputs, status: h.status, meta: h.meta };
}

/**
 * pending/running → done, with the next history sequence number. The subquery's `done_seq IS NOT NULL`
 * changes nothing in its result (MAX skips NULLs) but lets SQLite read the maximum from the partial index
 * prompts_done_seq; without it SQLite scans every row, history text included — 0.5 ms per finished prompt
 * at 5000 history entries, growing with the history.
 */
export const FINISH_SQL = `UPDATE prompts SET state = 'done', history = ?,
  done_seq = (SELECT COALESCE(MAX(done_seq), 0) + 1 FROM prompts WHERE done_seq IS NOT NULL)
  WHERE id = ? AND state != 'done'`;

export interface PromptStoreOptions {
  /** Commits never checkpoint the WAL: the caller runs startWalCheckpointer on the same file. */
  backgroundCheckpoints?: boolean;
  /** Called after each write (for the checkpointer's count). */
  onCommit?: () => void;
}

export function openPromptStore(path: string, opts: PromptStoreOptions = {}): PromptStore {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode survives a process crash (kill -9); only a power cut can drop the last commits.
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  // The server checkpoints from a thread of its own (walCheckpointer.ts) so no commit here pays for one.
  if (opts.backgroundCheckpoints) db.pragma('wal_autocheckpoint = 0');
  db.exec(`
    CREATE TABLE IF NOT EXISTS prompts (
      id TEXT PRIMARY KEY,
      number REAL NOT NULL,
      prompt TEXT NOT NULL,
      extra_data TEXT NOT NULL,
      outputs TEXT NOT NULL,
      client_id TEXT,
      state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done')),
      attempts INTEGER NOT NULL DEFAULT 0,
      history TEXT,
      done_seq INTEGER
    );
    CREATE INDEX IF NOT EXISTS prompts_state_number ON prompts (state, number);
    CREATE INDEX IF NOT EXISTS prompts_done_seq ON prompts (done_seq) WHERE done_seq IS NOT NULL;
  `);
  const st = {
    insert: db.prepare(
      `INSERT INTO prompts (id, number, prompt, extra_data, outputs, client_id, state) VALUES (?, ?, ?, ?, ?, ?, 'pending')`,
    ),
    nextPending: db.prepare(`SELECT * FROM prompts WHERE state = 'pending' ORDER BY number LIMIT 1`),
    markRunning: db.prepare(`UPDATE prompts SET state = 'running', attempts = attempts + 1 WHERE id = ? AND state = 'pending'`),
    finish: db.prepare(FINISH_SQL),
    get: db.prepare(`SELECT * FROM prompts WHERE id = ?`),
    byState: db.prepare(`SELECT * FROM prompts WHERE state = ? ORDER BY number`),
    // IN (…) seeks the (state, number) index; `!= 'done'` would scan every history row.
    remaining: db.prepare(`SELECT COUNT(*) AS n FROM prompts WHERE state IN ('pending', 'running')`),
    deletePending: db.prepare(`DELETE FROM prompts WHERE id = ? AND state = 'pending'`),
    pendingIds: db.prepare(`SELECT id FROM prompts WHERE state = 'pending'`),
    clearPending: db.prepare(`DELETE FROM prompts WHERE state = 'pending'`),
    historyNewest: db.prepare(`SELECT * FROM prompts WHERE state = 'done' ORDER BY done_seq DESC LIMIT ?`),
    historyFrom: db.prepare(`SELECT * FROM prompts WHERE state = 'done' ORDER BY done_seq LIMIT ? OFFSET ?`),
    historyOf: db.prepare(`SELECT * FROM prompts WHERE id = ? AND state = 'done'`),
    deleteHistory: db.prepare(`DELETE FROM prompts WHERE id = ? AND state = 'done'`),
    clearHistory: db.prepare(`DELETE FROM prompts WHERE state = 'done'`),
    maxNumber: db.prepare(`SELECT MAX(number) AS n FROM prompts`),
    minNumber: db.prepare(`SELECT MIN(number) AS n FROM prompts WHERE state IN ('pending', 'running')`),
  };
  const deleteMany = db.transaction((ids: readonly string[]) => ids.filter((id) => st.deletePending.run(id).changes > 0));
  const clearPending = db.transaction(() => {
    const ids = (st.pendingIds.all() as { id: string }[]).map((r) => r.id);
    st.clearPending.run();
    return ids;
  });
  // The hot writes report themselves (rare ones — deletes, recovery — are left to the checkpointer's timer).
  const committed = opts.onCommit ?? (() => {});
  const finish = (id: string, record: HistoryRecord): boolean => {
    const done = st.finish.run(JSON.stringify(record), id).changes > 0;
    committed();
    return done;
  };
  const recover = db.transaction((now: number) => {
    const requeued: string[] = [];
    const failed: string[] = [];
    for (const r of st.byState.all('running') as Row[]) {
      if (r.attempts < MAX_ATTEMPTS) {
        db.prepare(`UPDATE prompts SET state = 'pending' WHERE id = ?`).run(r.id);
        requeued.push(r.id);
      } else {
        finish(r.id, {
          outputs: {},
          meta: {},
          status: {
            status_str: 'error',
            completed: false,
            messages: [
              [
                'execution_error',
                {
                  prompt_id: r.id,
                  node_id: null,
                  node_type: null,
                  executed: [],
                  exception_message: `the server stopped ${MAX_ATTEMPTS} times while running this prompt; it is not retried again`,
                  exception_type: 'ServerRestart',
                  traceback: [],
                  current_inputs: {},
                  current_outputs: {},
                  timestamp: now,
                },
              ],
            ],
          },
        });
        failed.push(r.id);
      }
    }
    return { requeued, failed };
  });
  return {
    insert(p) {
      st.insert.run(p.id, p.number, JSON.stringify(p.prompt), JSON.stringify(p.extraData), JSON.stringify(p.outputs), p.clientId ?? null);
      committed();
    },
    nextPending() {
      const r = st.nextPending.get() as Row | undefined;
      return r && toPrompt(r);
    },
    markRunning(id) {
      const taken = st.markRunning.run(id).changes > 0;
      committed();
      return taken;
    },
    finish,
    get(id) {
      const r = st.get.get(id) as Row | undefined;
      return r && toPrompt(r);
    },
    running: () => (st.byState.all('running') as Row[]).map(toItem),
    pending: () => (st.byState.all('pending') as Row[]).map(toItem),
    remaining: () => (st.remaining.get() as { n: number }).n,
    deletePending: (ids) => deleteMany(ids),
    clearPending: () => clearPending(),
    history(maxItems, offset) {
      // As ComfyUI: oldest first; without an offset, max_items keeps the newest entries; an offset counts
      // from the oldest.
      const rows =
        offset === undefined
          ? (st.historyNewest.all(maxItems ?? -1) as Row[]).reverse()
          : (st.historyFrom.all(maxItems ?? -1, offset) as Row[]);
      const out: Record<string, HistoryEntry> = {};
      for (const r of rows) out[r.id] = toHistory(r);
      return out;
    },
    historyOf(id) {
      const r = st.historyOf.get(id) as Row | undefined;
      return r && toHistory(r);
    },
    deleteHistory(ids) {
      for (const id of ids) st.deleteHistory.run(id);
    },
    clearHistory() {
      st.clearHistory.run();
    },
    maxNumber: () => (st.maxNumber.get() as { n: number | null }).n ?? -1,
    minNumber: () => (st.minNumber.get() as { n: number | null }).n ?? 0,
    recoverInterrupted: (now = Date.now()) => recover(now),
    requeue: (id) => db.prepare(`UPDATE prompts SET state = 'pending', attempts = MAX(attempts - 1, 0) WHERE id = ? AND state = 'running'`).run(id).changes > 0,
    resetRunning() {
      const ids = (st.byState.all('running') as Row[]).map((r) => r.id);
      db.prepare(`UPDATE prompts SET state = 'pending' WHERE state = 'running'`).run();
      return ids;
    },
    close: () => db.close(),
  };
}
