import { describe, expect, it } from 'vitest';
import { commit, HISTORY_LIMIT, redo, startHistory, undo } from './history.ts';
import { newComic } from './newDocument.ts';

const titled = (t: string) => ({ ...newComic(t, 'comic-1') });

describe('history', () => {
  it('undoes and redoes whole edits, and a new edit clears the redo list', () => {
    let h = startHistory(titled('a'));
    h = commit(h, titled('b'), null, 0);
    h = commit(h, titled('c'), null, 10);
    h = undo(h);
    expect(h.present.title).toBe('b');
    h = undo(h);
    expect(h.present.title).toBe('a');
    expect(undo(h)).toBe(h);
    h = redo(h);
    expect(h.present.title).toBe('b');
    h = commit(h, titled('d'), null, 20);
    expect(h.future).toEqual([]);
    expect(redo(h)).toBe(h);
  });

  it('merges a stream of edits with one key into one step, but not across a pause or another key', () => {
    let h = startHistory(titled(''));
    h = commit(h, titled('H'), 'text', 0);
    h = commit(h, titled('He'), 'text', 300);
    h = commit(h, titled('Hey'), 'text', 600);
    expect(h.past.map((c) => c.title)).toEqual(['']);
    h = commit(h, titled('Hey!'), 'text', 600 + 5000);
    expect(h.past.map((c) => c.title)).toEqual(['', 'Hey']);
    h = commit(h, titled('Hey!!'), 'other', 600 + 5100);
    expect(h.past).toHaveLength(3);
  });

  it('keeps at most HISTORY_LIMIT steps', () => {
    let h = startHistory(titled('0'));
    for (let i = 1; i <= HISTORY_LIMIT + 20; i++) h = commit(h, titled(String(i)), null, i);
    expect(h.past).toHaveLength(HISTORY_LIMIT);
    expect(h.past[0].title).toBe('20');
  });
});
