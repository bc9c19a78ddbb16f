// The SQLite store's rules on its own: queue order, exactly-once history, crash recovery.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { MAX_ATTEMPTS, openPromptStore, type HistoryRecord } from './store.ts';
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

  it('lists history oldest first and honours max_items (newest) and offset', () => {
    const s = openPromptStore(join(tempDir(), 'q.sqlite'));
    for (const id of ['a', 'b', 'c']) {
      s.insert(prompt(id, s.maxNumber() + 1));
      s.markRunning(id);
      s.finish(id, record);
    }
    expect(Object.keys(s.history())).toEqual(['a', 'b', 'c']);
    expect(Object.keys(s.history(2))).toEqual(['b', 'c']);
    expect(Object.keys(s.history(1, 1))).toEqual(['b']);
    s.deleteHistory(['b']);
    expect(Object.keys(s.history())).toEqual(['a', 'c']);
    s.clearHistory();
    expect(s.history()).toEqual({});
    s.close();
  });
});
