// The SQLite store's rules on its own: queue order, exactly-once history, crash recovery.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { statSync } from 'node:fs';
import { startWalCheckpointer, type WalCheckpointer } from './walCheckpointer.ts';
import Database from 'better-sqlite3';
import { FINISH_SQL, MAX_ATTEMPTS, openPromptStore, type HistoryRecord } from './store.ts';
import { cleanupAll, tempDir } from '../../test/server/harness.ts';

afterAll(() => cleanupAll());

const record: HistoryRecord = { outputs: {}, meta: {}, status: { status_str: 'success', completed: true, messages: [] } };
const prompt = (id: string, number: number) => ({ id, number, prompt: { '1': { class_type: 'X', inputs: {} } }, extraData: {}, outputs: ['1'] });

describe('prompt store', () => {
  it('runs in number order (front = negative first) and finishes a prompt once', () => {
    const path = join(tempDir(), 'q.sqlite');
    const s = openPromptStore(path);
    s.insert(prompt('a', 0));
    s.insert(prompt('b', 1));
    s.insert(prompt('c', -2));
    expect(s.nextPending()!.id).toBe('c');
    expect(s.markRunning('c')).toBe(true);
    expect(s.markRunning('c')).toBe(false);
    expect(s.remaining()).toBe(3);
    expect(s.finish('c', record)).toBe(true);
    expect(s.finish('c', record)).toBe(false);
    expect(Object.keys(s.history())).toEqual(['c']);
    expect(s.deletePending(['b', 'c'])).toEqual(['b']);
    expect(s.pending().map((i) => i[1])).toEqual(['a']);
    s.close();
  });

  it('after a crash re-queues a running prompt once, then records it as an error', () => {
    const path = join(tempDir(), 'q.sqlite');
    let s = openPromptStore(path);
    s.insert(prompt('a', 0));
    s.markRunning('a');
    s.close(); // the "crash": the row stays running
    for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt++) {
      s = openPromptStore(path);
      expect(s.recoverInterrupted()).toEqual({ requeued: ['a'], failed: [] });
      expect(s.markRunning('a')).toBe(true);
      s.close();
    }
    s = openPromptStore(path);
    expect(s.recoverInterrupted()).toEqual({ requeued: [], failed: ['a'] });
    const h = s.historyOf('a')!;
    expect(h.status.status_str).toBe('error');
    expect(h.status.messages[0][0]).toBe('execution_error');
    expect(s.remaining()).toBe(0);
    s.close();
  });

  it('a run stopped by a clean shutdown goes back to pending without using up an attempt', () => {
    const s = openPromptStore(join(tempDir(), 'q.sqlite'));
    s.insert(prompt('a', 0));
    s.markRunning('a');
    expect(s.requeue('a')).toBe(true);
    expect(s.get('a')).toMatchObject({ state: 'pending', attempts: 0 });
    expect(s.requeue('a')).toBe(false);
    s.close();
  });

  it('lists history oldest first and honours max_items (newest) and offset (from the oldest), as ComfyUI', () => {
    const s = openPromptStore(join(tempDir(), 'q.sqlite'));
    for (const id of ['a', 'b', 'c']) {
      s.insert(prompt(id, s.maxNumber() + 1));
      s.markRunning(id);
      s.finish(id, record);
    }
    expect(Object.keys(s.history())).toEqual(['a', 'b', 'c']);
    expect(Object.keys(s.history(2))).toEqual(['b', 'c']);
    expect(Object.keys(s.history(1, 1))).toEqual(['b']);
    expect(Object.keys(s.history(2, 0))).toEqual(['a', 'b']);
    expect(Object.keys(s.history(undefined, 2))).toEqual(['c']);
    s.deleteHistory(['b']);
    expect(Object.keys(s.history())).toEqual(['a', 'c']);
    s.clearHistory();
    expect(s.history()).toEqual({});
    s.close();
  });

  it('finishing a prompt reads the next history number from its index, not by scanning every history row', () => {
    const path = join(tempDir(), 'q.sqlite');
    openPromptStore(path).close();
    const db = new Database(path, { readonly: true });
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${FINISH_SQL}`).all('{}', 'a') as { detail: string }[]).map((r) => r.detail);
    db.close();
    expect(plan).toContain('SEARCH prompts USING COVERING INDEX prompts_done_seq (done_seq>?)');
    expect(plan.filter((d) => /^(SCAN|SEARCH) prompts$/.test(d))).toEqual([]);
  });

  it('with background checkpoints, commits leave the WAL to the checkpoint thread, which copies it into the database', async () => {
    const path = join(tempDir(), 'q.sqlite');
    let cp: WalCheckpointer | undefined;
    const s = openPromptStore(path, { backgroundCheckpoints: true, onCommit: () => cp?.committed() });
    const big = { '1': { class_type: 'X', inputs: { text: 'x'.repeat(3000) } } };
    const fill = (from: number) => {
      for (let i = from; i < from + 400; i++) s.insert({ ...prompt(`p${i}`, i), prompt: big });
    };
    fill(0);
    // 400 prompts of 3 kB are far past SQLite's 1000-page auto-checkpoint: the database file itself is still
    // the empty schema, everything is in the WAL.
    const schemaOnly = statSync(path).size;
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(1_000_000);
    // No timer within the test: only the commit count can start a checkpoint.
    cp = startWalCheckpointer(path, { commitsPerCheckpoint: 50, intervalMs: 3_600_000 });
    try {
      for (let i = 0; i < 50; i++) s.markRunning(`p${i}`);
      // Until the copy is complete: the file is past the data's size and has stopped growing.
      const deadline = Date.now() + 20_000;
      let last = schemaOnly;
      for (;;) {
        await new Promise((r) => setTimeout(r, 100));
        const now = statSync(path).size;
        if ((now > 1_000_000 && now === last) || Date.now() > deadline) break;
        last = now;
      }
      expect(statSync(path).size).toBeGreaterThan(1_000_000);
      // Once checkpointed, new commits reuse the WAL from its start: the same amount of data again leaves it
      // about as long as before, where appending would have doubled it.
      const walBefore = statSync(`${path}-wal`).size;
      fill(400);
      expect(statSync(`${path}-wal`).size).toBeLessThan(walBefore * 1.5);
      expect(s.remaining()).toBe(800);
    } finally {
      await cp.close();
      s.close();
    }
    const again = openPromptStore(path);
    expect(again.remaining()).toBe(800);
    expect(again.get('p7')?.state).toBe('running');
    again.close();
  });
});
